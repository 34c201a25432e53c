// The proxy's own answers: a status, a short JSON body and an `x-mesh-error` header naming the cause, so a
// client (and `curl -i`) can tell a mesh failure from an upstream's own 5xx. Never a hang: when the response
// has already started, the only honest signal left is to cut the connection.
import type { ServerResponse } from 'node:http';
import { ErrorCodes, type ErrorCode } from '../core/errors.js';

/** The `x-mesh-error` values, one per cause. */
export type MeshErrorCause =
  | 'no-such-service'
  | 'no-healthy-endpoint'
  | 'circuit-open'
  | 'upstream-timeout'
  | 'upstream-connect'
  | 'upstream-reset'
  | 'upstream-identity'
  | 'bad-request'
  | 'protocol-unsupported';

const CODE_OF: Record<MeshErrorCause, ErrorCode> = {
  'no-such-service': 'MESH_ERR_NO_SUCH_SERVICE',
  'no-healthy-endpoint': 'MESH_ERR_NO_HEALTHY_ENDPOINT',
  'circuit-open': 'MESH_ERR_CIRCUIT_OPEN',
  'upstream-timeout': 'MESH_ERR_UPSTREAM_TIMEOUT',
  'upstream-connect': 'MESH_ERR_UPSTREAM_CONNECT',
  'upstream-reset': 'MESH_ERR_UPSTREAM_CONNECT',
  'upstream-identity': 'MESH_ERR_UPSTREAM_IDENTITY',
  'bad-request': 'MESH_ERR_BAD_REQUEST',
  'protocol-unsupported': 'MESH_ERR_PROTOCOL_UNSUPPORTED',
};

export function codeOf(cause: MeshErrorCause): ErrorCode {
  return CODE_OF[cause];
}

export function statusOf(cause: MeshErrorCause): number {
  return cause === 'upstream-reset' ? 502 : ErrorCodes[CODE_OF[cause]].status;
}

/**
 * Answers with the mesh error for `cause`; if the response already started, aborts it instead. Returns the body
 * bytes sent, for the access log (0 for a HEAD request, whose answer has no body, and for an abort).
 */
export function sendMeshError(res: ServerResponse, cause: MeshErrorCause, message: string): number {
  if (res.headersSent || res.writableEnded) {
    res.destroy();
    return 0;
  }
  const body = JSON.stringify({ error: { code: CODE_OF[cause], message } });
  const headers: Record<string, string | number> = {
    'content-type': 'application/json',
    'content-length': Buffer.byteLength(body),
    'x-mesh-error': cause,
    'cache-control': 'no-store',
  };
  // After a malformed request the connection's framing cannot be trusted.
  if (cause === 'bad-request') headers.connection = 'close';
  try {
    res.writeHead(statusOf(cause), headers);
    res.end(body);
  } catch {
    res.destroy();
    return 0;
  }
  return res.req.method === 'HEAD' ? 0 : headers['content-length'] as number;
}

/** The message for a failed endpoint pick, shared by the HTTP/1.1 and h2 paths. */
export function pickFailureMessage(service: string, cause: MeshErrorCause): string {
  if (cause === 'no-healthy-endpoint') return `service "${service}" has no healthy endpoint`;
  if (cause === 'no-such-service') return `service "${service}" has no registered instances (it left the registry)`;
  return `service "${service}": ${cause}`;
}
