// The registry's client library. Commands and the proxy reach the daemon only through this.
import { EventEmitter } from 'node:events';
import { readFileSync } from 'node:fs';
import type { Agent as HttpAgent } from 'node:http';
import type { Dispatcher } from 'undici';
import { ErrorCodes, MeshError, type ErrorCode } from '../core/errors.js';
import type { HealthState, Instance, InstanceSpec, ServiceSummary, WatchEvent } from '../core/types.js';
import { httpCall, keepAliveAgent } from './http-call.js';
import type { StoreStatus } from './store/store.js';
import type { RootsResponse, SignResponse } from './identity/service.js';
import type { TokenView } from './identity/tokens.js';
import { untrustedRegistryError } from './tls-trust.js';
import type { CentralConfig, EntryDiff, JsonObject } from '../config/central.js';
import type { Fault } from '../config/faults.js';

/** POST /v1/faults: one of abort/reset/delayMs; forMs is required. */
export interface FaultRequest { service: string; route?: string; from?: string; abort?: number; reset?: true; delayMs?: number; percent: number; forMs: number; allowLong?: boolean }

export interface RegistryClientOptions {
  /** Base URL, e.g. http://127.0.0.1:8500 */
  url: string;
  /** Bearer token sent on every call (required by the daemon for mutating calls when it has one). */
  token?: string;
  /** PEM file of a CA to trust for an https registry. */
  caFile?: string;
  /** Per-call timeout (ms) for non-watch calls. */
  timeoutMs?: number;
}

export interface RegistryStatusResponse extends StoreStatus {
  version: string;
  uptimeMs: number;
  services: number;
  instances: number;
  listen: string;
  /** The DNS server's host:port and domain, when the daemon runs with --dns. */
  dns?: string;
  dnsDomain?: string;
}

export interface HeartbeatBody { status?: HealthState; output?: string }

export class RegistryClient {
  readonly url: string;
  private readonly base: URL;
  private readonly token: string | undefined;
  private readonly ca: string | undefined;
  /** For one-shot calls (node:http). */
  private readonly agent: HttpAgent;
  /** For watch streams (undici), created by the first watch. */
  private dispatcher: Promise<Dispatcher> | undefined;
  private readonly timeoutMs: number;
  private readonly caFile: string | undefined;

  constructor(opts: RegistryClientOptions) {
    try {
      this.base = new URL(opts.url);
    } catch {
      throw new MeshError('MESH_ERR_INVALID_ARGUMENT', `invalid registry URL "${opts.url}": use http://host:port`);
    }
    if (this.base.protocol !== 'http:' && this.base.protocol !== 'https:') {
      throw new MeshError('MESH_ERR_INVALID_ARGUMENT', `invalid registry URL "${opts.url}": use http:// or https://`);
    }
    this.url = opts.url.replace(/\/+$/, '');
    this.token = opts.token;
    this.timeoutMs = opts.timeoutMs ?? 10_000;
    this.caFile = opts.caFile;
    let ca: string | undefined;
    if (opts.caFile !== undefined) {
      try {
        ca = readFileSync(opts.caFile, 'utf8');
      } catch (err) {
        throw new MeshError('MESH_ERR_TLS', `cannot read CA file ${opts.caFile}: ${(err as Error).message}`);
      }
    }
    this.ca = ca;
    this.agent = keepAliveAgent(this.base, ca);
  }

  async close(): Promise<void> {
    this.agent.destroy();
    if (this.dispatcher !== undefined) await (await this.dispatcher).close();
  }

  private watchDispatcher(): Promise<Dispatcher> {
    // undici's parts, not its index: the index costs a proxy ~9 MiB of RSS (core/undici-parts.ts).
    this.dispatcher ??= import('../core/undici-parts.js').then(({ Agent }) => new Agent({
      keepAliveTimeout: 4_000,
      connections: 16,
      ...(this.ca === undefined ? {} : { connect: { ca: this.ca } }),
    }));
    return this.dispatcher;
  }

  /** Closes at once, failing calls in flight (a blocking roots watch must not hold a stopping proxy). */
  async destroy(): Promise<void> {
    this.agent.destroy();
    if (this.dispatcher !== undefined) await (await this.dispatcher).destroy();
  }

  register(spec: InstanceSpec): Promise<{ index: number; instance: Instance }> {
    const { service, id, ...rest } = spec;
    return this.call('PUT', `/v1/services/${enc(service)}/instances/${enc(id)}`, rest);
  }

  deregister(service: string, id: string): Promise<{ index: number; removed: boolean }> {
    return this.call('DELETE', `/v1/services/${enc(service)}/instances/${enc(id)}`);
  }

  heartbeat(service: string, id: string, body: HeartbeatBody = {}): Promise<{ index: number; instance: Instance }> {
    return this.call('PUT', `/v1/services/${enc(service)}/instances/${enc(id)}/heartbeat`, body);
  }

  services(): Promise<{ index: number; services: ServiceSummary[] }> {
    return this.call('GET', '/v1/services');
  }

  service(name: string): Promise<{ index: number; service: string; instances: Instance[] }> {
    return this.call('GET', `/v1/services/${enc(name)}`);
  }

  status(): Promise<RegistryStatusResponse> {
    return this.call('GET', '/v1/status');
  }

  // -- identity (registry-issued certificates) --
  /** A first certificate ({csr, token}) or a renewal ({csr, renew: {chain, signature}}). */
  signCertificate(body: { csr: string; token?: string; renew?: { chain: string; signature: string } }): Promise<SignResponse> {
    return this.call('POST', '/v1/identity/sign', body);
  }

  /** The trust bundle; with `wait`, blocks up to wait ms until its version differs from `version`. */
  identityRoots(opts: { version?: string; waitMs?: number } = {}): Promise<RootsResponse> {
    if (opts.version === undefined || opts.waitMs === undefined) return this.call('GET', '/v1/identity/roots');
    return this.call('GET', `/v1/identity/roots?version=${enc(opts.version)}&wait=${opts.waitMs}ms`, undefined, opts.waitMs + this.timeoutMs);
  }

  createToken(body: { service: string; ttlMs?: number; uses?: number }): Promise<{ token: string } & TokenView> {
    return this.call('POST', '/v1/identity/tokens', body);
  }

  listTokens(): Promise<{ tokens: TokenView[] }> {
    return this.call('GET', '/v1/identity/tokens');
  }

  revokeToken(id: string): Promise<{ token: TokenView }> {
    return this.call('DELETE', `/v1/identity/tokens/${enc(id)}`);
  }

  /** Opens a watch (server-sent events) that reconnects by itself; see Watcher. */
  watch(opts: WatchOptions = {}): Watcher {
    return new Watcher(this, opts);
  }

  // --- central config (/v1/config) ---
  config(): Promise<CentralConfigResponse> {
    return this.call('GET', '/v1/config');
  }

  /** One service's entry in force, or as it was at a kept `version`. */
  configEntry(service: string, version?: number): Promise<{ version: number; service: string; entry: JsonObject; defaults: JsonObject | null }> {
    return this.call('GET', `/v1/config/services/${enc(service)}${version === undefined ? '' : `?version=${version}`}`);
  }

  /** Applies {proxy?, authz?}: named services and defaults replace the stored ones; authz replaces the policy. */
  applyConfig(body: { proxy?: unknown; authz?: unknown }, opts: { dryRun?: boolean; change?: string } = {}): Promise<ConfigWriteResponse> {
    const q = new URLSearchParams();
    if (opts.dryRun) q.set('dryRun', 'true');
    if (opts.change !== undefined) q.set('change', opts.change);
    const qs = q.toString();
    return this.call('PUT', `/v1/config${qs ? `?${qs}` : ''}`, body);
  }

  deleteConfigEntry(service: string): Promise<ConfigWriteResponse> {
    return this.call('DELETE', `/v1/config/services/${enc(service)}`);
  }

  configHistory(): Promise<{ version: number; versions: ConfigHistoryRow[] }> {
    return this.call('GET', '/v1/config/history');
  }

  rollbackConfig(version: number): Promise<ConfigWriteResponse> {
    return this.call('POST', '/v1/config/rollback', { version });
  }

  // --- faults (/v1/faults) ---
  injectFault(body: FaultRequest): Promise<{ version: number; fault: Fault }> {
    return this.call('POST', '/v1/faults', body);
  }

  faults(): Promise<{ version: number; now: number; faults: Fault[] }> {
    return this.call('GET', '/v1/faults');
  }

  /** Clears one fault, or every fault when `id` is undefined. */
  clearFaults(id?: string): Promise<{ version: number; cleared: string[] }> {
    return this.call('DELETE', id === undefined ? '/v1/faults' : `/v1/faults/${enc(id)}`);
  }

  /** Watches the central config: one `config` event with the whole version in force, then one per change. */
  watchConfig(opts: { index?: number; idleTimeoutMs?: number } = {}): Watcher<ConfigWatchEvent> {
    return new Watcher<ConfigWatchEvent>(this, { ...opts, path: '/v1/config/watch' });
  }

  /** @internal the watch's raw request */
  async openStream(path: string, signal: AbortSignal, idleTimeoutMs = WATCH_IDLE_TIMEOUT_MS): Promise<Dispatcher.ResponseData> {
    const dispatcher = await this.watchDispatcher();
    const url = new URL(path, this.base);
    const res = await dispatcher.request({
      origin: url.origin,
      path: url.pathname + url.search,
      method: 'GET',
      headers: this.headers({ accept: 'text/event-stream' }),
      signal,
      headersTimeout: this.timeoutMs,
      bodyTimeout: idleTimeoutMs,
    }).catch((err: unknown) => { throw this.unreachable(err); });
    if (res.statusCode !== 200) throw this.errorFrom(res.statusCode, await res.body.text().catch(() => ''));
    return res;
  }

  private headers(extra: Record<string, string> = {}): Record<string, string> {
    const h: Record<string, string> = { ...extra };
    if (this.token !== undefined) h.authorization = `Bearer ${this.token}`;
    return h;
  }

  private async call<T>(method: 'GET' | 'PUT' | 'POST' | 'DELETE', path: string, body?: unknown, timeoutMs = this.timeoutMs): Promise<T> {
    const headers = this.headers(body === undefined ? {} : { 'content-type': 'application/json' });
    const res = await httpCall(new URL(path, this.base), {
      method,
      headers,
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
      agent: this.agent,
      timeoutMs,
    }).catch((err: unknown) => { throw this.unreachable(err); });
    if (res.status >= 400) throw this.errorFrom(res.status, res.body);
    return JSON.parse(res.body) as T;
  }

  private unreachable(err: unknown): MeshError {
    if (err instanceof MeshError) return err;
    const e = err as NodeJS.ErrnoException;
    if (e?.name === 'AbortError') return new MeshError('MESH_ERR_REGISTRY_UNREACHABLE', 'the watch was closed', { cause: err });
    const untrusted = untrustedRegistryError(err, this.url, this.caFile);
    if (untrusted !== undefined) return untrusted;
    const why = e?.code ?? e?.message ?? String(err);
    return new MeshError('MESH_ERR_REGISTRY_UNREACHABLE', `registry at ${this.url} is unreachable (${why})`, { cause: err });
  }

  private errorFrom(status: number, text: string): MeshError {
    let code: ErrorCode = 'MESH_ERR_INTERNAL';
    let message = `registry answered ${status}`;
    try {
      const body = JSON.parse(text) as { error?: { code?: string; message?: string } };
      if (body?.error?.code && body.error.code in ErrorCodes) code = body.error.code as ErrorCode;
      if (body?.error?.message) message = body.error.message;
    } catch {
      // Not our JSON: keep the status line.
    }
    return new MeshError(code, message, { status });
  }
}

function enc(s: string): string {
  return encodeURIComponent(s);
}

/**
 * The daemon writes a `: keepalive` comment every 15 s, so a stream silent for three of those is dead (a registry
 * host that vanished without closing the connection): the watcher reconnects instead of waiting forever.
 */
export const WATCH_IDLE_TIMEOUT_MS = 45_000;

export interface CentralConfigResponse { index: number; version: number; at: number | null; change: string | null; config: CentralConfig }
export interface ConfigWriteResponse { version: number; changed: boolean; diff: EntryDiff[]; warnings: string[]; dryRun?: boolean }
export interface ConfigHistoryRow { version: number; at: number; change: string; entries: string[] }
export interface ConfigWatchEvent extends Omit<CentralConfigResponse, 'index'> { type: 'config'; index: number }

export interface WatchOptions {
  /** The stream to follow (default /v1/watch, the catalogue). */
  path?: string;
  services?: string[];
  /** Resume after this index instead of starting with a reset. */
  index?: number;
  /** A stream with no bytes for this long is treated as broken (default WATCH_IDLE_TIMEOUT_MS). */
  idleTimeoutMs?: number;
}

export interface WatcherEvents<E> {
  /** A watch event, in index order. After a reconnect that the server could not resume, a `reset` arrives. */
  event: [E];
  /** The stream is (re)connected. */
  connected: [];
  /** The stream broke; the watcher keeps the last index and retries with backoff. */
  disconnected: [MeshError];
}

/**
 * A server-sent-event watch on GET /v1/watch. It reconnects with capped exponential backoff and resumes from
 * the last index it saw, so consumers see an unbroken stream of updates or, when the registry could not
 * replay what was missed, a `reset` with the full state.
 */
export class Watcher<E extends { index: number } = WatchEvent> extends EventEmitter<WatcherEvents<E>> {
  private index: number | undefined;
  private readonly abort = new AbortController();
  private closed = false;
  private backoffMs = 100;

  constructor(private readonly client: RegistryClient, private readonly opts: WatchOptions) {
    super();
    this.index = opts.index;
    queueMicrotask(() => { void this.loop(); });
  }

  get lastIndex(): number | undefined {
    return this.index;
  }

  close(): void {
    this.closed = true;
    this.abort.abort();
  }

  private path(): string {
    const q = new URLSearchParams();
    for (const s of this.opts.services ?? []) q.append('service', s);
    if (this.index !== undefined) q.set('index', String(this.index));
    const qs = q.toString();
    return `${this.opts.path ?? '/v1/watch'}${qs ? `?${qs}` : ''}`;
  }

  private async loop(): Promise<void> {
    while (!this.closed) {
      try {
        const res = await this.client.openStream(this.path(), this.abort.signal, this.opts.idleTimeoutMs);
        this.backoffMs = 100;
        this.emit('connected');
        await this.consume(res.body);
        if (!this.closed) throw new MeshError('MESH_ERR_REGISTRY_UNREACHABLE', `registry at ${this.client.url} closed the watch`);
      } catch (err) {
        if (this.closed) return;
        const e = err instanceof MeshError ? err : new MeshError('MESH_ERR_REGISTRY_UNREACHABLE', `watch on ${this.client.url} failed: ${(err as Error).message}`, { cause: err });
        this.emit('disconnected', e);
        await new Promise((r) => setTimeout(r, this.backoffMs).unref());
        this.backoffMs = Math.min(this.backoffMs * 2, 5_000);
      }
    }
  }

  private async consume(body: AsyncIterable<Buffer | string>): Promise<void> {
    let buf = '';
    let data = '';
    // A streaming decoder: a multi-byte character split across two chunks must not turn into U+FFFD.
    const utf8 = new TextDecoder('utf-8');
    for await (const chunk of body) {
      buf += typeof chunk === 'string' ? chunk : utf8.decode(chunk, { stream: true });
      let nl: number;
      while ((nl = buf.indexOf('\n')) >= 0) {
        const line = buf.slice(0, nl).replace(/\r$/, '');
        buf = buf.slice(nl + 1);
        if (line === '') {
          if (data !== '') this.dispatch(data);
          data = '';
        } else if (line.startsWith('data:')) {
          data += (data ? '\n' : '') + line.slice(line[5] === ' ' ? 6 : 5);
        }
        // `event:`, `id:` and `:` comments carry nothing the JSON data does not.
      }
      if (this.closed) return;
    }
  }

  private dispatch(data: string): void {
    const event = JSON.parse(data) as E;
    this.index = event.index;
    (this.emit as (name: 'event', e: E) => boolean)('event', event);
  }
}
