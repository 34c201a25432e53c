// The proxy's own answers on HTTP/2 streams. Plain h2 gets what HTTP/1.1 gets (status, JSON body,
// x-mesh-error). A gRPC client cannot read a JSON 503: it expects HTTP 200 and a grpc-status, so gRPC calls
// get a trailers-only response with the gRPC code an Envoy/Linkerd user would see for the same cause.
import { constants, type OutgoingHttpHeaders, type ServerHttp2Stream } from 'node:http2';
import { codeOf, statusOf, type MeshErrorCause } from '../errors-response.js';

/** gRPC status codes (grpc/doc/statuscodes.md) for each cause. */
export const GRPC_STATUS: Readonly<Record<MeshErrorCause, number>> = {
  'no-such-service': 14, // UNAVAILABLE
  'no-healthy-endpoint': 14,
  'circuit-open': 14,
  'upstream-timeout': 4, // DEADLINE_EXCEEDED
  'upstream-connect': 14,
  'upstream-reset': 14,
  'upstream-identity': 14, // a refused server certificate: UNAVAILABLE, as Envoy answers a TLS failure
  'bad-request': 13, // INTERNAL, as gRPC maps an HTTP 400
  'protocol-unsupported': 12, // UNIMPLEMENTED
  'fault-injected': 14,
};

/**
 * Answers `cause` on the stream (or resets it when the response already started). Returns the body bytes sent,
 * for the access log: the JSON body's length, 0 for gRPC (a trailers-only answer) and for a reset.
 */
export function sendH2Error(stream: ServerHttp2Stream, grpc: boolean, cause: MeshErrorCause, message: string, status = statusOf(cause)): number {
  if (stream.destroyed || stream.closed) return 0;
  if (stream.headersSent) {
    stream.close(constants.NGHTTP2_INTERNAL_ERROR);
    return 0;
  }
  try {
    if (grpc) {
      stream.respond({
        ':status': 200,
        'content-type': 'application/grpc',
        'grpc-status': String(GRPC_STATUS[cause]),
        'grpc-message': grpcMessage(message),
        'x-mesh-error': cause,
      }, { endStream: true });
      return 0;
    }
    const body = JSON.stringify({ error: { code: codeOf(cause), message } });
    const headers: OutgoingHttpHeaders = {
      ':status': status,
      'content-type': 'application/json',
      'content-length': Buffer.byteLength(body),
      'x-mesh-error': cause,
      'cache-control': 'no-store',
    };
    stream.respond(headers);
    stream.end(body);
    return headers['content-length'] as number;
  } catch {
    stream.close(constants.NGHTTP2_INTERNAL_ERROR);
    return 0;
  }
}

/** grpc-message is percent-encoded: every byte outside printable ASCII, and "%" itself (gRPC over HTTP2 spec). */
export function grpcMessage(message: string): string {
  let plain = true;
  for (let i = 0; i < message.length; i++) {
    const c = message.charCodeAt(i);
    if (c < 0x20 || c > 0x7e || c === 0x25) { plain = false; break; }
  }
  if (plain) return message;
  let out = '';
  for (const byte of Buffer.from(message, 'utf8')) {
    out += byte < 0x20 || byte > 0x7e || byte === 0x25 ? `%${byte.toString(16).toUpperCase().padStart(2, '0')}` : String.fromCharCode(byte);
  }
  return out;
}

/**
 * The inbound sidecar's policy refusal on an h2 stream: gRPC gets PERMISSION_DENIED (7) with the rule in
 * grpc-message, plain h2 the same 403 JSON body as HTTP/1.1 (code MESH_ERR_FORBIDDEN, message, rule).
 */
export function sendH2Forbidden(stream: ServerHttp2Stream, grpc: boolean, message: string, rule: string): void {
  if (stream.destroyed || stream.closed || stream.headersSent) return;
  try {
    if (grpc) {
      stream.respond({
        ':status': 200,
        'content-type': 'application/grpc',
        'grpc-status': '7',
        'grpc-message': grpcMessage(`${message} (rule: ${rule})`),
        'x-mesh-error': 'forbidden',
      }, { endStream: true });
      return;
    }
    const body = JSON.stringify({ error: { code: 'MESH_ERR_FORBIDDEN', message, rule } });
    stream.respond({ ':status': 403, 'content-type': 'application/json', 'content-length': Buffer.byteLength(body), 'x-mesh-error': 'forbidden', 'cache-control': 'no-store' });
    stream.end(body);
  } catch {
    stream.close(constants.NGHTTP2_INTERNAL_ERROR);
  }
}
