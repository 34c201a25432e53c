// Flow-control windows for every HTTP/2 session the proxy accepts (the h2c front, the inbound sidecar) or makes
// (upstream sessions to endpoints and to the sidecar's app). HTTP/2's defaults, 64 KiB per stream and 64 KiB for
// the whole connection, let a sender put only 64 KiB in flight before it must wait for a WINDOW_UPDATE, and
// the proxy sends one only after its event loop has moved the bytes on: with one upstream session carrying
// every stream to an endpoint, all of them shared those 64 KiB, and a 1 MiB response through the proxy ran at
// about 7% of the direct rate (95 MB/s against 1.3 GB/s, h2load -c4 -m4 on loopback).
// Memory stays bounded by the stream window: Node acknowledges a stream's data only as it is read, and the
// proxy reads a stream only as fast as the other side drains it (pipe backpressure), so a slow client holds at
// most STREAM_WINDOW of one response in the proxy. The connection window only has to be large enough for
// several streams' windows at once.
import type { ClientHttp2Session, ServerHttp2Session, Settings } from 'node:http2';

/** What each stream may have in flight towards the proxy: 1 MiB, as nginx's grpc upstream buffers allow. */
export const STREAM_WINDOW = 1 << 20;
/** What one connection may have in flight towards the proxy, all streams together. */
export const CONNECTION_WINDOW = 16 << 20;

/** SETTINGS the proxy sends on every session, server or client. */
export const LOCAL_SETTINGS: Settings = { enablePush: false, initialWindowSize: STREAM_WINDOW };

/**
 * Opens the connection-level window (SETTINGS cannot: only a WINDOW_UPDATE on stream 0 can). A server session
 * can take it at once; a client session only once it is connected (its handle exists from then on).
 */
export function openConnectionWindow(session: ClientHttp2Session | ServerHttp2Session): void {
  if (session.destroyed) return;
  session.setLocalWindowSize(CONNECTION_WINDOW);
}
