// Request headers whose name contains an underscore are dropped before forwarding, as nginx does by default
// (`underscores_in_headers off`). CGI, WSGI, Rack and PHP hand headers to the app as HTTP_X_USER, turning
// both `X-User` and `x_user` into the same variable: a client could set `x_user: admin` next to (or instead
// of) the `X-User` an edge proxy sets or strips, and the app would trust it. A service that really uses such
// names opts in with `allowUnderscoresInHeaders: true` in the proxy config. Every drop is counted per service
// (mesh_request_headers_dropped_total{reason="underscore"}).
//
// Where it applies: every request forwarded by the outbound proxy (HTTP/1.1, WebSocket handshakes, HTTP/2 and
// gRPC) and by the inbound sidecar to its app. Request trailers are never forwarded by either, and response
// headers are the upstream's own, so neither is filtered.

/** Counts the headers one request lost; absent where underscores are allowed. */
export interface HeaderDropCounter {
  underscoreHeadersDropped(count: number): void;
}

/** A native scan of the name: no allocation, so checking every header of every request costs next to nothing. */
export function hasUnderscore(name: string): boolean {
  return name.indexOf('_') !== -1;
}
