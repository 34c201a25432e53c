// Keeps one registration alive from the client side: registers, heartbeats every TTL/3 (so two heartbeats can
// be lost before the TTL runs out), re-registers if the registry forgot the instance (it expired, or the
// registry was restarted on another data dir), and deregisters on stop.
import { MeshError } from '../core/errors.js';
import type { Instance, InstanceSpec } from '../core/types.js';
import type { RegistryClient } from './client.js';

export interface KeepAliveOptions {
  /** Heartbeat period (ms); default TTL/3, or 10 s for instances without a TTL (which only re-register). */
  intervalMs?: number;
  /** Lifecycle messages (registry lost / back); one line each, no newline. */
  log?: (line: string) => void;
}

export class KeepAlive {
  private timer: NodeJS.Timeout | undefined;
  private stopped = false;
  private failing = false;
  private readonly intervalMs: number;
  private readonly log: (line: string) => void;
  private beat: Promise<void> = Promise.resolve();
  private stopping: Promise<void> | undefined;

  constructor(private readonly client: RegistryClient, readonly spec: InstanceSpec, opts: KeepAliveOptions = {}) {
    const ttl = spec.check?.ttlMs;
    this.intervalMs = opts.intervalMs ?? (ttl !== undefined ? Math.max(50, Math.floor(ttl / 3)) : 10_000);
    this.log = opts.log ?? (() => {});
  }

  /** Registers (and, for a TTL instance, sends the first heartbeat so it turns passing at once), then keeps it alive. */
  async start(): Promise<{ index: number; instance: Instance }> {
    let res = await this.client.register(this.spec);
    if (this.spec.check?.ttlMs !== undefined) res = await this.client.heartbeat(this.spec.service, this.spec.id);
    this.schedule();
    return res;
  }

  /** Stops heartbeating and deregisters; an instance the registry no longer has counts as deregistered. */
  stop(deregister = true): Promise<void> {
    this.stopping ??= this.shutdown(deregister);
    return this.stopping;
  }

  private async shutdown(deregister: boolean): Promise<void> {
    this.stopped = true;
    clearTimeout(this.timer);
    await this.beat;
    if (!deregister) return;
    try {
      await this.client.deregister(this.spec.service, this.spec.id);
    } catch (err) {
      if (!(err instanceof MeshError && err.code === 'MESH_ERR_NOT_FOUND')) throw err;
    }
  }

  private schedule(): void {
    if (this.stopped) return;
    this.timer = setTimeout(() => {
      this.beat = this.tick().finally(() => this.schedule());
    }, this.intervalMs);
  }

  private async tick(): Promise<void> {
    const { service, id } = this.spec;
    try {
      if (this.spec.check?.ttlMs !== undefined) {
        try {
          await this.client.heartbeat(service, id);
        } catch (err) {
          if (!(err instanceof MeshError && err.code === 'MESH_ERR_NOT_FOUND')) throw err;
          this.log(`mesh: the registry no longer had ${service}/${id}; registering it again`);
          await this.client.register(this.spec);
          await this.client.heartbeat(service, id);
        }
      } else {
        // Without a TTL nothing needs refreshing, but a registry that lost the instance gets it back.
        await this.client.register(this.spec);
      }
      if (this.failing) this.log(`mesh: registry at ${this.client.url} is reachable again; ${service}/${id} is registered`);
      this.failing = false;
    } catch (err) {
      if (this.stopped) return;
      if (!this.failing) this.log(`mesh: heartbeat for ${service}/${id} failed: ${(err as Error).message}; retrying every ${this.intervalMs} ms`);
      this.failing = true;
    }
  }
}
