// What every route handler of the registry API gets (the server builds it once), and the shape of a route.
// Its own module so the server, the route table and the routes of every part (watch streams, config, faults,
// identity, metrics) can name it without importing one another in a circle.
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import type { Clock } from '../../core/clock.js';
import type { WatchHub } from '../catalogue/watch-hub.js';
import type { DnsCounters } from '../dns/counters.js';
import type { IdentityService } from '../identity/service.js';
import type { RegistryStore } from '../store/store.js';

export interface ApiContext {
  store: RegistryStore;
  hub: WatchHub;
  version: string;
  clock: Clock;
  startedAt: number;
  listen: string;
  authorize: ((req: IncomingMessage) => void) | undefined;
  keepaliveMs: number;
  /** Unsent bytes a watch stream may queue before it is dropped (see WATCH_MAX_QUEUED_BYTES in server.ts). */
  watchMaxQueuedBytes: number;
  log(line: string): void;
  onWatchStream(socket: Socket): void;
  /** The certificate authority (`registry start --issuer`); undefined = the identity API answers 503. */
  identity: IdentityService | undefined;
  /** Present when the daemon serves DNS: its counters, for /v1/metrics. */
  dnsCounters: DnsCounters | undefined;
  /** Where the daemon answers DNS (set once the DNS server listens), for GET /v1/status. */
  dns?: { address: string; domain: string };
}

export type Params = string[];
/** The parts of a request's URL a handler reads (routes.ts's requestUrl: a WHATWG URL only when one is needed). */
export interface RequestUrl { readonly pathname: string; readonly searchParams: URLSearchParams }
export type Handler = (ctx: ApiContext, req: IncomingMessage, res: ServerResponse, params: Params, url: RequestUrl) => Promise<void> | void;
/** ownAuth: the handler authorises the call itself (the admin token's check is skipped). */
export interface Route { pattern: RegExp; methods: Partial<Record<string, Handler>>; ownAuth?: boolean }
