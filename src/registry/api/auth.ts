// Who may change the registry: with a token configured, every mutating call (anything but GET) must carry
// `Authorization: Bearer <token>`. The comparison is constant-time (both sides hashed to a fixed length first,
// so neither the content nor the length of the token leaks through timing). Reads stay open, as in Consul's
// default ACL policy for catalog reads.
import { createHash, timingSafeEqual } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import { MeshError } from '../../core/errors.js';
import { isReadableByOthers, readTextFile } from '../../tls/files.js';

const digest = (s: string) => createHash('sha256').update(s, 'utf8').digest();

/** Whether `presented` equals `expected`, in time independent of where (or whether) they differ. */
export function tokensEqual(presented: string, expected: string): boolean {
  return timingSafeEqual(digest(presented), digest(expected));
}

/** An `authorize` hook for the registry server: throws 401 MESH_ERR_UNAUTHORIZED unless the bearer token matches. */
export function bearerTokenAuthorizer(token: string): (req: IncomingMessage) => void {
  if (token === '') throw new MeshError('MESH_ERR_USAGE', 'the registry token is empty');
  return (req) => {
    const header = req.headers.authorization;
    const m = header === undefined ? null : /^Bearer[ \t]+(\S+)[ \t]*$/i.exec(header);
    if (m === null) throw new MeshError('MESH_ERR_UNAUTHORIZED', 'this call changes the registry and needs Authorization: Bearer <token>');
    if (!tokensEqual(m[1]!, token)) throw new MeshError('MESH_ERR_UNAUTHORIZED', 'the bearer token is not valid for this registry');
  };
}

/** Reads a token file (first line, trimmed); warns through `warn` when others can read it. */
export function readTokenFile(path: string, warn: (line: string) => void): string {
  const token = readTextFile(path, 'token file').split(/\r?\n/, 1)[0]!.trim();
  if (token === '') throw new MeshError('MESH_ERR_USAGE', `token file "${path}" is empty`, { hint: 'write a long random token into it, e.g. openssl rand -hex 32' });
  if (isReadableByOthers(path)) warn(`mesh registry: warning: token file "${path}" is readable by group or others; run: chmod 600 ${path}`);
  return token;
}

/** Loopback hosts: 127.0.0.0/8, ::1 and localhost. Anything else exposes the API to the network. */
export function isLoopbackHost(host: string): boolean {
  return host === 'localhost' || host === '::1' || /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(host);
}
