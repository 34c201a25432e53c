// One server-sent-event stream on GET /v1/watch (and, through openEventStream, on GET /v1/config/watch). Each event is written as
//   id: <index>\nevent: <reset|upsert|remove>\ndata: <WatchEvent JSON>\n\n
// and flushed in the same turn of the event loop (Nagle off), so a watcher hears about a change as soon as it is
// durable. The events of one turn (the changes one etcd watch response or one journal commit brought) go out in
// one write per stream: a proxy that watches every service got one socket write per event before.
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { ApiContext } from './context.js';

export function openWatchStream(
  ctx: ApiContext,
  req: IncomingMessage,
  res: ServerResponse,
  opts: { services: ReadonlySet<string>; sinceIndex: number | undefined },
): void {
  openEventStream(ctx, req, res, (subscriber) => ctx.hub.watch({ services: opts.services, sinceIndex: opts.sinceIndex }, subscriber).unsubscribe);
}

/**
 * The SSE machinery every watch shares (instances here, the central config in config/routes.ts): headers,
 * keepalive comments, dropping a reader that fell behind, clean-up when either side ends. `subscribe` starts
 * the feed (sending what the client missed first) and returns the unsubscribe function.
 */
export function openEventStream(
  ctx: ApiContext,
  req: IncomingMessage,
  res: ServerResponse,
  subscribe: (subscriber: { send(event: { type: string; index: number }): void; close(): void }) => () => void,
): void {
  const socket = req.socket;
  socket.setNoDelay(true);
  // A watch is a long response; the idle-socket timeout must not cut it (keepalive comments keep proxies happy).
  socket.setTimeout(0);
  ctx.onWatchStream(socket);
  res.writeHead(200, {
    'content-type': 'text/event-stream; charset=utf-8',
    'cache-control': 'no-cache',
    'x-accel-buffering': 'no',
    'x-mesh-index': String(ctx.store.currentIndex()),
  });
  res.flushHeaders();

  let ended = false;
  let unsubscribe = (): void => {};
  const end = () => {
    if (ended) return;
    ended = true;
    clearInterval(keepalive);
    unsubscribe();
    if (!res.writableEnded) res.end();
  };
  // A client that stopped reading: cut it rather than queue for it without bound (it resumes from its index).
  const drop = () => {
    ctx.log(`dropped a watch stream from ${socket.remoteAddress ?? '?'}:${socket.remotePort ?? '?'} that stopped reading (${res.writableLength} bytes unsent); it can resume from its last index`);
    end();
    socket.destroy();
  };
  const keepalive = setInterval(() => { if (!ended) res.write(': keepalive\n\n'); }, ctx.keepaliveMs);
  keepalive.unref();
  let corked = false;
  const uncork = () => { corked = false; res.uncork(); };
  unsubscribe = subscribe({
    send: (event) => {
      if (ended) return;
      // Judge the backlog left before this event, so one event larger than the limit (the `reset` of a big
      // registry) still reaches a client that reads; only a client that fell behind is cut.
      if (res.writableLength > ctx.watchMaxQueuedBytes) { drop(); return; }
      if (!corked) { corked = true; res.cork(); process.nextTick(uncork); }
      res.write(formatEvent(event));
    },
    close: end,
  });
  res.on('close', end);
  if (ended) unsubscribe();
}

/**
 * The hub hands one event object to every stream that watches it, one stream after another: the last text made
 * is kept, so N watchers of a change cost one JSON.stringify, not N. Events are never changed once published.
 */
let lastEvent: object | undefined;
let lastText = '';

export function formatEvent(event: { type: string; index: number }): string {
  if (event === lastEvent) return lastText;
  const text = `id: ${event.index}\nevent: ${event.type}\ndata: ${JSON.stringify(event)}\n\n`;
  // A reset is made for one stream and can be megabytes: not kept.
  if (event.type !== 'reset') { lastEvent = event; lastText = text; }
  return text;
}
