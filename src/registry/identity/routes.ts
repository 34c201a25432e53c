// The identity part of the registry's /v1 API (documented in man/mesh.1, REGISTRY API):
//   POST   /v1/identity/sign            a leaf for a CSR, with a bootstrap token or a renewal proof (no admin token)
//   GET    /v1/identity/roots           the trust bundle; ?wait=30s&version=<v> blocks until it changes (a watch)
//   GET    /v1/identity/tokens          the bootstrap tokens, without secrets (admin token)
//   POST   /v1/identity/tokens          create one; the secret is in this answer only (admin token)
//   DELETE /v1/identity/tokens/<id>     revoke one (admin token)
//   GET    /v1/identity/metrics         Prometheus counters of issued and refused certificates
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { TLSSocket } from 'node:tls';
import { presentedChain } from './presented-chain.js';
import { parseDuration } from '../../core/duration.js';
import { MeshError, ValidationError } from '../../core/errors.js';
import type { ApiContext, RequestUrl, Route } from '../api/context.js';
import { readJsonBody, sendJson } from '../api/json.js';
import type { IdentityService } from './service.js';
import { isTokenId } from './tokens.js';

const MAX_ROOTS_WAIT_MS = 5 * 60_000;

function identityOf(ctx: ApiContext): IdentityService {
  if (ctx.identity === undefined) throw new MeshError('MESH_ERR_IDENTITY_UNAVAILABLE', 'this registry issues no certificates: it was started without --issuer');
  return ctx.identity;
}

async function sign(ctx: ApiContext, req: IncomingMessage, res: ServerResponse): Promise<void> {
  const identity = identityOf(ctx);
  const body = await readJsonBody(req, res);
  const socket = req.socket as TLSSocket;
  const chain = socket.encrypted === true ? presentedChain(socket) : [];
  sendJson(ctx.store, res, 200, await identity.sign(body, req.socket.remoteAddress ?? 'unknown', chain), { 'cache-control': 'no-store' });
}

async function roots(ctx: ApiContext, req: IncomingMessage, res: ServerResponse, _p: string[], url: RequestUrl): Promise<void> {
  const identity = identityOf(ctx);
  const waitText = url.searchParams.get('wait');
  const seen = url.searchParams.get('version');
  if (waitText === null || seen === null) { sendJson(ctx.store, res, 200, identity.roots()); return; }
  const waitMs = Math.min(parseDuration(waitText, 'wait'), MAX_ROOTS_WAIT_MS);
  const closed = new Promise<void>((resolve) => res.once('close', resolve));
  ctx.onWatchStream(req.socket);
  sendJson(ctx.store, res, 200, await identity.waitForRoots(seen, waitMs, closed));
}

async function listTokens(ctx: ApiContext, req: IncomingMessage, res: ServerResponse): Promise<void> {
  ctx.authorize?.(req); // a read, but of credentials' metadata: admin only
  sendJson(ctx.store, res, 200, { tokens: await identityOf(ctx).listTokens() }, { 'cache-control': 'no-store' });
}

async function createToken(ctx: ApiContext, req: IncomingMessage, res: ServerResponse): Promise<void> {
  const identity = identityOf(ctx);
  const body = await readJsonBody(req, res);
  if (body === undefined) throw new MeshError('MESH_ERR_INVALID_JSON', 'the body is empty: send {"service": "<name>"}');
  sendJson(ctx.store, res, 201, await identity.createToken(body), { 'cache-control': 'no-store' });
}

async function revokeToken(ctx: ApiContext, _req: IncomingMessage, res: ServerResponse, [id]: string[]): Promise<void> {
  if (!isTokenId(id!)) throw new ValidationError('id', `invalid token id "${id}": use the 12 hex digits \`mesh token list\` shows`);
  sendJson(ctx.store, res, 200, { token: await identityOf(ctx).revokeToken(id!) });
}

function metrics(ctx: ApiContext, _req: IncomingMessage, res: ServerResponse): void {
  const text = identityOf(ctx).metricsText();
  res.writeHead(200, { 'content-type': 'text/plain; version=0.0.4; charset=utf-8', 'content-length': Buffer.byteLength(text) });
  res.end(text);
}

export const IDENTITY_ROUTES: Route[] = [
  // Authorised by its body (token or renewal proof), never by the admin token.
  { pattern: /^\/v1\/identity\/sign$/, methods: { POST: sign }, ownAuth: true },
  { pattern: /^\/v1\/identity\/roots$/, methods: { GET: roots } },
  { pattern: /^\/v1\/identity\/tokens$/, methods: { GET: listTokens, POST: createToken } },
  { pattern: /^\/v1\/identity\/tokens\/([^/]+)$/, methods: { DELETE: revokeToken } },
  { pattern: /^\/v1\/identity\/metrics$/, methods: { GET: metrics } },
];
