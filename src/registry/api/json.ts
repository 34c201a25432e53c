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
  const chunks: Buffer[] = [];
  let total = 0;
  for await (const chunk of req as AsyncIterable<Buffer>) {
    total += chunk.length;
    if (total > MAX_BODY_BYTES) throw tooLarge(req, res);
    chunks.push(chunk);
  }
  if (total === 0) return undefined;
  let text: string;
  try {
    text = UTF8.decode(Buffer.concat(chunks));
  } catch {
    throw new MeshError('MESH_ERR_INVALID_JSON', 'the request body is not valid UTF-8');
  }
  try {
    return JSON.parse(text) as unknown;
  } catch (err) {
    throw new MeshError('MESH_ERR_INVALID_JSON', `malformed JSON body: ${(err as Error).message}`);
  }
}

/** Stop reading an oversized body: the connection cannot be reused, so the reply closes it. */
export function tooLarge(req: IncomingMessage, res: ServerResponse): MeshError {
  res.setHeader('connection', 'close');
  res.once('finish', () => req.destroy());
  return new MeshError('MESH_ERR_BODY_TOO_LARGE', `request body is larger than ${MAX_BODY_BYTES} bytes`);
}

export function sendJson(store: RegistryStore, res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  if (res.headersSent) { res.destroy(); return; }
  const text = JSON.stringify(body);
  res.writeHead(status, {
    'content-type': 'application/json; charset=utf-8',
    'content-length': Buffer.byteLength(text),
    'x-mesh-index': String(store.currentIndex()),
    ...headers,
  });
  res.end(text);
}

export function sendError(store: RegistryStore, res: ServerResponse, err: unknown, headers: Record<string, string> = {}): void {
  const e = isMeshError(err) ? err : new MeshError('MESH_ERR_INTERNAL', `internal error: ${(err as Error)?.message ?? String(err)}`, { cause: err });
  // A validation error names the field, so a client (or `mesh config apply`) can point at it.
  const field = e instanceof ValidationError ? { field: e.field } : {};
  sendJson(store, res, e.status, { error: { code: e.code, message: e.message, ...field } }, headers);
}
