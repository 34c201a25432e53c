// This daemon's membership in the set of registry daemons sharing one etcd prefix. Membership is a key under
// <prefix>/members/ bound to a short session lease that the daemon keeps alive; a daemon that dies (even with
// kill -9) drops out when the lease expires. The member set decides who runs which service's active checks
// (see checkerFor in keys.ts): sharding by rendezvous hashing rather than electing one leader spreads
// the checking load, and a service's checks move to another daemon only when its checker leaves or joins.
import { hostname } from 'node:os';
import { randomBytes } from 'node:crypto';
import type { Etcd3 } from 'etcd3';
import { grantLease, keepAliveOnce, revokeLease } from './client.js';
import { memberKey } from './keys.js';

export function newMemberId(): string {
  const host = hostname().toLowerCase().replace(/[^a-z0-9-]/g, '-').slice(0, 40) || 'host';
  return `${host}-${process.pid}-${randomBytes(3).toString('hex')}`;
}

export class Membership {
  private lease: string | undefined;
  private timer: NodeJS.Timeout | undefined;
  private beating = false;

  constructor(
    private readonly client: Etcd3,
    private readonly prefix: string,
    readonly id: string,
    private readonly ttlSeconds: number,
    private readonly info: Record<string, string | number>,
  ) {}

  /** Puts the member key under a fresh lease (or renews the current one) and keeps it alive. */
  async join(): Promise<void> {
    if (this.lease !== undefined) {
      const ttl = await keepAliveOnce(this.client, this.lease);
      if (ttl > 0) { this.schedule(); return; }
      this.lease = undefined; // it expired while etcd was out of reach: join again
    }
    const lease = await grantLease(this.client, this.ttlSeconds);
    await this.client.kv.put({ key: Buffer.from(memberKey(this.prefix, this.id)), value: Buffer.from(JSON.stringify({ id: this.id, ...this.info })), lease });
    this.lease = lease;
    this.schedule();
  }

  /** Deletes the member key by revoking its lease, so the others take over its checks at once. */
  async leave(): Promise<void> {
    clearTimeout(this.timer);
    this.timer = undefined;
    const lease = this.lease;
    this.lease = undefined;
    if (lease !== undefined) await revokeLease(this.client, lease);
  }

  private schedule(): void {
    clearTimeout(this.timer);
    this.timer = setTimeout(() => { void this.beat(); }, Math.max(500, (this.ttlSeconds * 1000) / 3));
    this.timer.unref();
  }

  private async beat(): Promise<void> {
    if (this.beating || this.lease === undefined) return;
    this.beating = true;
    try {
      await this.join();
    } catch {
      // etcd is out of reach: the store notices and calls join() again when it recovers. Keep trying meanwhile.
      this.schedule();
    } finally {
      this.beating = false;
    }
  }
}
