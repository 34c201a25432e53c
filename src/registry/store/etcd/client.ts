// The etcd connection: builds the etcd3 (gRPC) client from mesh's options and wraps the few raw calls the
// store needs with deadlines, so that a partitioned etcd turns into an error instead of a hang.
import { readFileSync } from 'node:fs';
import {
  ClientClosedError,
  Etcd3,
  EtcdAuthenticationFailedError,
  EtcdPermissionDeniedError,
  GRPCDeadlineExceededError,
  GRPCUnavailableError,
  isRecoverableError,
  type IKeyValue,
  type IOptions,
} from 'etcd3';
import { MeshError } from '../../../core/errors.js';
import { prefixRangeEnd } from './keys.js';

export interface EtcdConnectionOptions {
  endpoints: string[];
  auth?: { username: string; password: string };
  tls?: { caFile?: string; certFile?: string; keyFile?: string };
  /** Deadline of each unary call (ms). */
  callTimeoutMs?: number;
}

/** The deadline of each unary call unless EtcdConnectionOptions.callTimeoutMs says otherwise. */
export const DEFAULT_CALL_TIMEOUT_MS = 2_000;

/** Builds the client; rejects unreadable TLS files with MESH_ERR_TLS. */
export function createEtcdClient(opts: EtcdConnectionOptions): Etcd3 {
  // 2 s: a call to a frozen or cut-off member (whose TCP connection stays open) fails by then, and etcd3 retries
  // it on another member (it shuffles the endpoints per call and retries recoverable errors, deadlines included),
  // so a heartbeat still lands within a short TTL. A healthy etcd answers in milliseconds.
  const callTimeoutMs = opts.callTimeoutMs ?? DEFAULT_CALL_TIMEOUT_MS;
  const options: IOptions = {
    hosts: opts.endpoints,
    dialTimeout: callTimeoutMs,
    // Unary calls get a deadline; streams (watch, keepalive) stay open and are supervised by the store.
    defaultCallOptions: (ctx) => (ctx.isStream ? {} : { deadline: Date.now() + callTimeoutMs }),
    grpcOptions: {
      // Detect a silently dead connection (partition) within seconds, not at the OS's TCP timeout.
      'grpc.keepalive_time_ms': 5_000,
      'grpc.keepalive_timeout_ms': 3_000,
      'grpc.keepalive_permit_without_calls': 1,
      'grpc.initial_reconnect_backoff_ms': 200,
      'grpc.max_reconnect_backoff_ms': 2_000,
    },
  };
  if (opts.auth) options.auth = { username: opts.auth.username, password: opts.auth.password };
  if (opts.tls && (opts.tls.caFile || opts.tls.certFile || opts.tls.keyFile)) {
    const read = (file: string, what: string): Buffer => {
      try {
        return readFileSync(file);
      } catch (err) {
        throw new MeshError('MESH_ERR_TLS', `cannot read etcd ${what} ${file}: ${(err as Error).message}`, { cause: err });
      }
    };
    if ((opts.tls.certFile === undefined) !== (opts.tls.keyFile === undefined)) {
      throw new MeshError('MESH_ERR_TLS', 'pass both --etcd-cert and --etcd-key for etcd client certificates, or neither');
    }
    if (!opts.tls.caFile) throw new MeshError('MESH_ERR_TLS', 'pass --etcd-ca with the CA that signed etcd\'s certificate');
    dropIpServernameWarning();
    options.credentials = {
      rootCertificate: read(opts.tls.caFile, 'CA file'),
      ...(opts.tls.keyFile ? { privateKey: read(opts.tls.keyFile, 'key file') } : {}),
      ...(opts.tls.certFile ? { certChain: read(opts.tls.certFile, 'certificate file') } : {}),
    };
  }
  return new Etcd3(options);
}

/** True for errors that mean "etcd is out of reach" (as opposed to "etcd said no"). */
export function isConnectivityError(err: unknown): boolean {
  if (err instanceof GRPCUnavailableError || err instanceof GRPCDeadlineExceededError || err instanceof ClientClosedError) return true;
  if (err instanceof Error && (err.name === 'BrokenCircuitError' || err.name === 'TaskCancelledError')) return true;
  return err instanceof Error && isRecoverableError(err);
}

/** True when etcd refused our credentials or permissions: a configuration problem, not an outage. */
export function isAuthError(err: unknown): boolean {
  return err instanceof EtcdAuthenticationFailedError || err instanceof EtcdPermissionDeniedError;
}

/** A short reason for logs and status: the gRPC message without its status-code prefix. */
export function describeEtcdError(err: unknown): string {
  const msg = (err instanceof Error ? err.message : String(err)).replace(/^\d+ [A-Z_]+: /, '').split('\n')[0] ?? '';
  // grpc-js wraps the socket error in "No connection established. Last error: Error: connect … Resolution note: …".
  const last = msg.match(/Last error: (?:Error: )?(.*?)\.?\s*(?:Resolution note:|$)/);
  const text = (last?.[1] || msg) || 'unknown error';
  // OpenSSL's own text ("805C…:error:0A000412:SSL routines:ssl3_read_bytes:sslv3 alert bad certificate:…") says
  // little to an operator: keep its reason and say what it usually means.
  const ssl = /SSL routines:[^:]*:([^:]+)/.exec(text)?.[1];
  if (ssl === undefined) return text;
  const meaning = /bad certificate|certificate required|unknown ca/.test(ssl)
    ? 'etcd refused this client\'s certificate, or wants one: check --etcd-cert and --etcd-key'
    : /wrong version number|packet length too long/.test(ssl) ? 'http and https mixed up: check the scheme in --etcd-endpoints' : 'check --etcd-ca, --etcd-cert and --etcd-key';
  return `TLS handshake failed (${ssl}; ${meaning})`;
}

/**
 * grpc-js hands an endpoint's host to TLS as the server name even when it is an IP address, and Node then
 * prints a DEP0123 deprecation warning on stderr; the certificate is still checked against the IP SAN. That
 * warning is noise to a mesh user (and breaks the one-line error rule), so it alone is dropped.
 */
function dropIpServernameWarning(): void {
  const emit = process.emitWarning as (...args: unknown[]) => void;
  if ((emit as { meshFiltered?: boolean }).meshFiltered) return;
  const filtered = (...args: unknown[]) => {
    if (args.includes('DEP0123') || (typeof args[1] === 'object' && (args[1] as { code?: string } | null)?.code === 'DEP0123')) return;
    emit.apply(process, args);
  };
  (filtered as { meshFiltered?: boolean }).meshFiltered = true;
  process.emitWarning = filtered as typeof process.emitWarning;
}

/** Every key-value under a prefix, with the revision the read happened at. */
export async function rangePrefix(client: Etcd3, prefix: string): Promise<{ revision: number; kvs: IKeyValue[] }> {
  const res = await client.kv.range({ key: Buffer.from(prefix), range_end: prefixRangeEnd(prefix) });
  return { revision: Number(res.header.revision), kvs: res.kvs };
}

/**
 * The liveness probe: the revision and raft term, and the newest mod revision under the prefix (one key, no
 * value), which the watch must have delivered by now — a watch that has not is stuck (see watchStalled).
 */
export async function probePrefix(client: Etcd3, prefix: string): Promise<{ revision: number; term: number; newestChange: number }> {
  const res = await client.kv.range({
    key: Buffer.from(prefix), range_end: prefixRangeEnd(prefix), keys_only: true, limit: 1, sort_order: 'Descend', sort_target: 'Mod',
  });
  return { revision: Number(res.header.revision), term: Number(res.header.raft_term), newestChange: Number(res.kvs[0]?.mod_revision ?? 0) };
}

export async function grantLease(client: Etcd3, ttlSeconds: number): Promise<string> {
  const res = await client.leaseClient.leaseGrant({ TTL: ttlSeconds });
  return String(res.ID);
}

export async function revokeLease(client: Etcd3, id: string): Promise<void> {
  try {
    await client.leaseClient.leaseRevoke({ ID: id });
  } catch (err) {
    // An already expired lease is what revoking wanted anyway.
    if (!/lease not found/i.test(describeEtcdError(err))) throw err;
  }
}

/**
 * Refreshes a lease once (a heartbeat). Resolves with the remaining TTL in seconds: 0 means the lease has
 * expired, so the keys bound to it are gone. Bounded by timeoutMs, since keepalive is a stream.
 */
export async function keepAliveOnce(client: Etcd3, id: string, timeoutMs = 5_000): Promise<number> {
  // At run time this is a gRPC duplex stream, an EventEmitter; etcd3's typing shows only on/write/end.
  const stream = (await client.leaseClient.leaseKeepAlive()) as unknown as NodeJS.EventEmitter & { write(req: { ID: string }): void; end(): void };
  try {
    return await new Promise<number>((resolve, reject) => {
      const timer = setTimeout(() => reject(new GRPCDeadlineExceededError('lease keepalive timed out')), timeoutMs);
      stream.once('data', (res: { TTL: string }) => { clearTimeout(timer); resolve(Number(res.TTL)); });
      stream.once('error', (err: Error) => { clearTimeout(timer); reject(err); });
      stream.once('end', () => { clearTimeout(timer); reject(new GRPCUnavailableError('lease keepalive stream ended')); });
      stream.write({ ID: id });
    });
  } finally {
    stream.end();
    stream.removeAllListeners('data');
    stream.on('error', () => {});
  }
}
