// What the proxy's listeners share: the HTTP/1.1 server (http1/server.ts), the h2c front it hands sniffed
// connections to (h2/server.ts) and the WebSocket tunnel (http1/websocket.ts) all serve requests with these.
// Its own module so none of them imports another's file for a type (they used to, in a circle).
import type { ServerHttp2Session } from 'node:http2';
import type { Socket } from 'node:net';
import type { Random } from '../core/clock.js';
import type { ProxyConfig } from '../config/proxy-config.js';
import type { FaultTable } from '../config/faults.js';
import type { AccessLog } from '../metrics/access-log.js';
import type { Tracer } from '../tracing/tracer.js';
import type { ServiceDirectory } from './attempt/forward-service.js';
import type { UpstreamPools } from './upstream/pools.js';

export interface ProxyServerDeps {
  directory: ServiceDirectory;
  pools: UpstreamPools;
  config: () => ProxyConfig;
  random: Random;
  /** Whether the proxy is draining: new requests on kept-alive connections get `connection: close`. */
  draining: () => boolean;
  /**
   * Client sockets the HTTP server does not track, which shutdown must close: open Upgrade tunnels, and
   * connections whose first bytes have not arrived yet (h2/sniff.ts).
   */
  tunnels: Set<Socket>;
  /** HTTP/2 (h2c) client sessions; shutdown sends them GOAWAY, then destroys what is left at the deadline. */
  h2Sessions?: Set<ServerHttp2Session>;
  /** The access log (--access-log), when on. */
  accessLog?: AccessLog | undefined;
  /** Active injected faults (`mesh fault inject`), from the central config; absent = none. */
  faults?: () => FaultTable;
  /** This proxy's own service (from its certificate), which `--from` faults match; undefined without one. */
  ownService?: string | undefined;
  /** The tracer (--trace-endpoint / --trace-sample), when tracing is on. */
  tracer?: Tracer | undefined;
}
