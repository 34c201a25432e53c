// The registry API's bodies and answers: a JSON request body read with a size bound and a strict UTF-8 decode,
// and JSON replies (every one carries the store's index in `x-mesh-index`) and errors as
// `{"error":{"code","message"[,"field"]}}`. Shared by the server and the routes of every part (instances, config,
// faults, identity), so none of them imports the server for it.
import type { IncomingMessage, ServerResponse } from 'node:http';
import { isMeshError, MeshError, ValidationError } from '../../core/errors.js';
import type { RegistryStore } from '../store/store.js';

export const MAX_BODY_BYTES = 1024 * 1024;
/** Bodies must be UTF-8: a lenient decode would store U+FFFD in place of what the client meant. */
const UTF8 = new TextDecoder('utf-8', { fatal: true });

/** Reads a JSON body of at most MAX_BODY_BYTES; an empty body is undefined. */
export async function readJsonBody(req: IncomingMessage, res: ServerResponse): Promise<unknown> {
  const declared = Number(req.headers['content-length'] ?? 0);
  if (declared > MAX_BODY_BYTES) throw tooLarge(req, res);
  const body = await readBody(req, res);
  if (body.length === 0) return undefined;
  let text: string;
  try {
    text = UTF8.decode(body);
  } catch {
    throw new MeshError('MESH_ERR_INVALID_JSON', 'the request body is not valid UTF-8');
  }
  try {
    return JSON.parse(text) as unknown;
  } catch (err) {
    throw new MeshError('MESH_ERR_INVALID_JSON', `malformed JSON body: ${(err as Error).message}`);
  }
}

/**
 * The body's bytes, with plain 'data'/'end' listeners: a registration is one small chunk, and the async iterator
 * this replaced cost more than the rest of the read (a stream wrapper and an end-of-stream watcher per request).
 */
function readBody(req: IncomingMessage, res: ServerResponse): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let total = 0;
    const cleanup = () => { req.off('data', onData); req.off('end', onEnd); req.off('error', onError); req.off('close', onClose); };
    const onData = (chunk: Buffer) => {
      total += chunk.length;
      if (total > MAX_BODY_BYTES) { cleanup(); req.resume(); reject(tooLarge(req, res)); return; }
      chunks.push(chunk);
    };
    const onEnd = () => { cleanup(); resolve(chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks, total)); };
    const onError = (err: Error) => { cleanup(); reject(err); };
    // The client went away before the body ended (the iterator rejected with ERR_STREAM_PREMATURE_CLOSE here).
    const onClose = () => { if (!req.complete) { cleanup(); reject(Object.assign(new Error('Premature close'), { code: 'ERR_STREAM_PREMATURE_CLOSE' })); } };
    req.on('data', onData);
    req.on('end', onEnd);
    req.on('error', onError);
    req.on('close', onClose);
  });
}

/** Stop reading an oversized body: the connection cannot be reused, so the reply closes it. */
export function tooLarge(req: IncomingMessage, res: ServerResponse): MeshError {
  res.setHeader('connection', 'close');
  res.once('finish', () => req.destroy());
  return new MeshError('MESH_ERR_BODY_TOO_LARGE', `request body is larger than ${MAX_BODY_BYTES} bytes`);
}

export function sendJson(store: RegistryStore, res: ServerResponse, status: number, body: unknown, headers?: Record<string, string>): void {
  if (res.headersSent) { res.destroy(); return; }
  const text = JSON.stringify(body);
  // A flat [name, value, …] list: Node takes it as is, where an object is copied and walked key by key.
  const list: (string | number)[] = ['content-type', 'application/json; charset=utf-8', 'content-length', Buffer.byteLength(text), 'x-mesh-index', String(store.currentIndex())];
  if (headers !== undefined) for (const k in headers) list.push(k, headers[k]!);
  res.writeHead(status, list as unknown as string[]);
  res.end(text);
}

export function sendError(store: RegistryStore, res: ServerResponse, err: unknown, headers?: Record<string, string>): void {
  const e = isMeshError(err) ? err : new MeshError('MESH_ERR_INTERNAL', `internal error: ${(err as Error)?.message ?? String(err)}`, { cause: err });
  // A validation error names the field, so a client (or `mesh config apply`) can point at it.
  const field = e instanceof ValidationError ? { field: e.field } : {};
  sendJson(store, res, e.status, { error: { code: e.code, message: e.message, ...field } }, headers);
}
