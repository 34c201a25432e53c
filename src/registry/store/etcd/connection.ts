// The etcd store's link to etcd: the first load, the watch that feeds the cache, and static stability —
// noticing an outage, serving read-only while probing, catching up by revision when etcd returns, and
// re-reading everything when etcd has compacted the revision the watch must resume from. Kept apart from
// etcd-store.ts so the store reads as "what a registry write does" and this as "how the cache stays current".
import { MeshError } from '../../../core/errors.js';
import type { Clock } from '../../../core/clock.js';
import type { EtcdCache } from './cache.js';
import {
  createEtcdClient, DEFAULT_CALL_TIMEOUT_MS, describeEtcdError, probePrefix, isAuthError, rangePrefix,
  type EtcdConnectionOptions,
} from './client.js';
import { Membership } from './members.js';
import { GRPCDeadlineExceededError, type Etcd3, type Watcher } from 'etcd3';

export interface EtcdConnectionSettings {
  connection: EtcdConnectionOptions;
  prefix: string;
  cache: EtcdCache;
  clock: Clock;
  log: (line: string) => void;
  memberId: string;
  memberInfo: Record<string, string | number>;
  memberTtlSeconds: number;
  openTimeoutMs: number;
  probeIntervalMs: number;
}

export class EtcdConnection {
  /** The client, once open() has been called. */
  client: Etcd3 | undefined;
  /** The watch's own client (see startWatch). */
  private watchClient: Etcd3 | undefined;
  /** Whether etcd answers: writes are accepted only then. */
  available = false;
  /** Why the registry is read-only, while it is. */
  reason: string | undefined;
  /** When (monotonic ms) etcd was lost. */
  lostAt = 0;
  /**
   * When (wall-clock ms) heartbeats could last not land: at open, when etcd returned after an outage, or one call
   * deadline after this daemon first heard of a new raft term (an election, during which etcd accepted no writes:
   * another daemon's write caught on the old leader lands only after its deadline and a retry).
   */
  writableSince = 0;
  private term = 0;
  private membership: Membership | undefined;
  private watcher: Watcher | undefined;
  private watchGeneration = 0;
  private probeTimer: NodeJS.Timeout | undefined;
  private probing = false;
  private lastResyncAt = -Infinity;
  private lastWatchRestartAt = -Infinity;
  private restartingWatch = false;
  private watchEndpoint = Math.floor(Math.random() * 1_000);
  /** A revision etcd has committed under the prefix that the watch had not delivered, and since when. */
  private owed: { revision: number; since: number } | undefined;
  private closing = false;
  private readonly endpointsText: string;
  private readonly prefix: string;
  private readonly cache: EtcdCache;
  private readonly clock: Clock;
  private readonly log: (line: string) => void;

  constructor(private readonly opts: EtcdConnectionSettings) {
    this.endpointsText = opts.connection.endpoints.join(',');
    this.prefix = opts.prefix;
    this.cache = opts.cache;
    this.clock = opts.clock;
    this.log = opts.log;
  }

  get isClosing(): boolean { return this.closing; }

  /** Loads the prefix into the cache and starts the watch, or fails with one clear MeshError. */
  async open(): Promise<void> {
    const client = createEtcdClient(this.opts.connection);
    this.client = client;
    const timeoutMs = this.opts.openTimeoutMs;
    try {
      await withTimeout((async () => {
        const { revision, kvs } = await rangePrefix(client, `${this.prefix}/`);
        this.cache.load(kvs, revision);
        // The watch's connection goes to one member: if it is the one that is down, try the next.
        const members = this.opts.connection.endpoints.length;
        for (let attempt = 1; ; attempt++) {
          try {
            await this.startWatch(revision + 1, members > 1 ? Math.max(1_000, timeoutMs / members) : timeoutMs);
            break;
          } catch (err) {
            if (attempt >= members || isAuthError(err)) throw err;
            this.dropWatchClient();
          }
        }
      })(), timeoutMs, `no answer within ${timeoutMs} ms`);
    } catch (err) {
      this.watchGeneration++;
      client.close();
      this.watchClient?.close();
      this.watchClient = undefined;
      const why = isAuthError(err) ? `refused the credentials: ${describeEtcdError(err)}` : `is unreachable: ${describeEtcdError(err)}`;
      throw new MeshError('MESH_ERR_ETCD_UNAVAILABLE', `etcd at ${this.endpointsText} ${why}`, { cause: err });
    }
    this.available = true;
    this.writableSince = this.clock.now();
    this.membership = new Membership(client, this.prefix, this.opts.memberId, this.opts.memberTtlSeconds, this.opts.memberInfo);
    await this.membership.join().catch((err: unknown) => this.lost(err));
    this.scheduleProbe();
  }

  async close(): Promise<void> {
    if (this.closing) return;
    this.closing = true;
    clearTimeout(this.probeTimer);
    const client = this.client;
    if (!client) return;
    this.watchGeneration++;
    // Leaving hands this daemon's checks to the others at once; bounded, since etcd may be gone.
    if (this.available) await withTimeout(this.membership?.leave() ?? Promise.resolve(), 2_000, '').catch(() => {});
    await withTimeout(this.watcher?.cancel() ?? Promise.resolve(), 1_000, '').catch(() => {});
    client.close();
    this.watchClient?.close();
  }

  /**
   * The watch's client talks to one endpoint, the next one each time it is made: a watch dropped because its
   * member froze or died is re-opened on another member, not on a shuffle that may pick the same one again.
   */
  private newWatchClient(): Etcd3 {
    const endpoints = this.opts.connection.endpoints;
    const endpoint = endpoints[this.watchEndpoint++ % endpoints.length]!;
    return createEtcdClient({ ...this.opts.connection, endpoints: [endpoint] });
  }

  /** Drops the watch's client (a stuck or broken stream) so the next watch opens a new one. */
  private dropWatchClient(): void {
    const old = this.watchClient;
    this.watchClient = undefined;
    this.watcher = undefined;
    old?.close();
  }

  /** Opens the watch on the whole prefix from `fromRevision`; resolves once etcd has accepted it. */
  private startWatch(fromRevision: number, timeoutMs = 4_000): Promise<void> {
    // etcd3 multiplexes every watch of a client on one gRPC stream: the watch has a client of its own, so a stuck
    // stream can be dropped (watchStalled) without touching the writes' connections.
    this.watchClient ??= this.newWatchClient();
    const client = this.watchClient;
    const generation = ++this.watchGeneration;
    const watcher = client.watch().prefix(`${this.prefix}/`).startRevision(String(fromRevision)).watcher();
    this.watcher = watcher;
    return new Promise<void>((resolve, reject) => {
      let settled = false;
      const timer = setTimeout(() => fail(false)(new GRPCDeadlineExceededError(`the watch did not start within ${timeoutMs} ms`)), timeoutMs);
      const fail = (canceledByEtcd: boolean) => (err: unknown) => {
        clearTimeout(timer);
        void watcher.cancel().catch(() => {});
        if (!settled) { settled = true; reject(err); return; }
        if (generation !== this.watchGeneration) return;
        // etcd cancels a watch whose start revision it has compacted away (right after accepting it).
        if (canceledByEtcd) void this.resyncAll(err);
        else this.watchDropped(err);
      };
      watcher.on('connected', () => { clearTimeout(timer); if (!settled) { settled = true; resolve(); } });
      watcher.on('data', (res) => {
        this.noteTerm(Number(res.header.raft_term));
        if (generation === this.watchGeneration) this.cache.applyWatch(res.events, Number(res.header.revision));
      });
      watcher.on('disconnected', fail(false));
      watcher.on('error', fail(true));
    });
  }

  /**
   * The watch has not delivered a revision etcd committed: its member is frozen or cut off while the stream stays
   * open (gRPC keep-alive would notice only after seconds). Restart it from the last applied revision; the new
   * stream goes to a member chosen afresh. One restart at a time, at most one every 2 s.
   */
  watchStalled(revision: number): void {
    const now = this.clock.monotonic();
    if (!this.available || this.closing || this.restartingWatch || now - this.lastWatchRestartAt < 2_000) return;
    if (this.cache.revision >= revision) return;
    this.restartingWatch = true;
    this.lastWatchRestartAt = now;
    const from = this.cache.revision + 1;
    this.log(`etcd store: the watch is behind revision ${revision} (at ${this.cache.revision}); restarting it from revision ${from} on a new connection`);
    // A new client means a new stream, on the next member; the old one goes with its stuck stream.
    this.watchGeneration++; // whatever the old watcher reports as it closes is no longer news
    this.dropWatchClient();
    this.startWatch(from)
      .catch((err: unknown) => this.lost(err))
      .finally(() => { this.restartingWatch = false; });
  }

  /**
   * The watch's stream broke (its one member died, or a frozen member's connection timed out). That member is
   * not etcd: re-open the watch on the next member and stay writable; only if that fails is etcd lost. (Going
   * read-only at once made a daemon refuse heartbeats for as long as its probes took to find a live member, and
   * the instances behind it expired elsewhere, while the other two members kept a quorum.)
   */
  private watchDropped(err: unknown): void {
    if (!this.available || this.closing || this.restartingWatch) return;
    if (this.opts.connection.endpoints.length < 2) { this.lost(err); return; } // its one member is etcd
    this.restartingWatch = true;
    this.lastWatchRestartAt = this.clock.monotonic();
    this.log(`etcd store: the watch's connection dropped (${describeEtcdError(err)}); re-opening it from revision ${this.cache.revision + 1} on the next member`);
    void (async () => {
      try {
        // Each attempt opens a new client on the next member; every member but the one that dropped gets a turn.
        for (let attempt = 1; ; attempt++) {
          this.watchGeneration++;
          this.dropWatchClient();
          try {
            await this.startWatch(this.cache.revision + 1);
            return;
          } catch (next) {
            if (attempt >= this.opts.connection.endpoints.length - 1 || this.closing) { this.lost(next); return; }
          }
        }
      } finally {
        this.restartingWatch = false;
      }
    })();
  }

  /**
   * A daemon that only reads notices a stuck watch here: a change etcd reported at one probe that the watch has
   * still not delivered at a probe 2 s later. (A writing daemon notices sooner, in the store's write path.)
   */
  private checkWatchCaughtUp(newestChange: number): void {
    if (!this.available || newestChange <= this.cache.revision) { this.owed = undefined; return; }
    const now = this.clock.monotonic();
    if (this.owed === undefined || this.owed.revision > newestChange) { this.owed = { revision: newestChange, since: now }; return; }
    if (now - this.owed.since >= 2_000) { this.watchStalled(this.owed.revision); this.owed = undefined; }
  }

  /** Records etcd's raft term; a newer one than last seen means an election happened (see writableSince). */
  noteTerm(term: number): void {
    if (!(term > this.term)) return;
    // The chaos run caught a heartbeat received just before an election commit 4 s later, 3 s after this daemon saw
    // the new term: counting from that moment expired it 0.16 s before the next heartbeat (etcd extends its
    // leases after a leader change for the same reason).
    const callDeadline = this.opts.connection.callTimeoutMs ?? DEFAULT_CALL_TIMEOUT_MS;
    if (this.term !== 0) this.writableSince = this.clock.now() + callDeadline;
    this.term = term;
  }

  /** etcd is out of reach: serve read-only and keep probing until it returns. */
  lost(err: unknown): void {
    if (this.closing) return;
    this.watchGeneration++;
    this.dropWatchClient();
    if (!this.available) return;
    this.available = false;
    this.lostAt = this.clock.monotonic();
    this.reason = `etcd at ${this.endpointsText} is unreachable (${describeEtcdError(err)})`;
    this.log(`etcd store: lost etcd: ${this.reason}; serving ${this.cache.size} instances read-only from revision ${this.cache.revision}`);
    this.scheduleProbe(0);
  }

  private scheduleProbe(delayMs = this.opts.probeIntervalMs): void {
    if (this.closing) return;
    clearTimeout(this.probeTimer);
    this.probeTimer = setTimeout(() => { void this.probe(); }, delayMs);
    this.probeTimer.unref();
  }

  private async probe(): Promise<void> {
    if (this.probing || this.closing || !this.client) return;
    this.probing = true;
    try {
      const seen = await probePrefix(this.client, `${this.prefix}/`);
      this.noteTerm(seen.term);
      this.checkWatchCaughtUp(seen.newestChange);
      if (!this.available) await this.recover();
    } catch (err) {
      if (this.available) this.lost(err);
    } finally {
      this.probing = false;
      this.scheduleProbe();
    }
  }

  /** Catches up by revision: resume the watch where the cache stopped (see resyncAll for a compacted one). */
  private async recover(): Promise<void> {
    const from = this.cache.revision + 1;
    await this.startWatch(from);
    await this.membership?.join();
    this.available = true;
    this.writableSince = this.clock.now();
    const outage = ((this.clock.monotonic() - this.lostAt) / 1000).toFixed(1);
    this.reason = undefined;
    this.log(`etcd store: etcd is back after ${outage} s: resumed the watch at revision ${from}; writes accepted again (${this.cache.size} instances)`);
  }

  /**
   * The watch was canceled by etcd, which happens when the revision it must resume from has been compacted:
   * re-read everything and emit the difference, then watch on from the read's revision. A watch canceled again
   * at once is treated as an outage, so a persistent refusal cannot spin.
   */
  private async resyncAll(cause: unknown): Promise<void> {
    this.watchGeneration++;
    this.watcher = undefined;
    const now = this.clock.monotonic();
    if (now - this.lastResyncAt < 2_000) { this.lost(cause); return; }
    this.lastResyncAt = now;
    const from = this.cache.revision;
    try {
      const { revision, kvs } = await rangePrefix(this.client!, `${this.prefix}/`);
      this.cache.load(kvs, revision);
      await this.startWatch(revision + 1);
      const why = describeEtcdError(cause).replace(/^Watcher canceled: ?$/, 'Watcher canceled: history compacted');
      this.log(`etcd store: etcd canceled the watch at revision ${from} (${why}); re-read everything at revision ${revision} and sent the difference (${this.cache.size} instances)`);
    } catch (err) {
      this.lost(err);
    }
  }

}

function withTimeout<T>(p: Promise<T>, ms: number, message: string): Promise<T> {
  let timer: NodeJS.Timeout;
  const timeout = new Promise<never>((_, reject) => { timer = setTimeout(() => reject(new Error(message)), ms); });
  return Promise.race([p, timeout]).finally(() => clearTimeout(timer));
}
