// The demo's services: small node:http servers in the demo process, each instance with its own latency and
// failure rate, so the dashboard has something to show — a slow instance, a flaky one, a backup tier.
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Random } from '../core/clock.js';

export interface DemoInstance {
  service: string;
  id: string;
  /** Mean latency (ms); each answer takes 50%–150% of it. */
  delayMs: number;
  /**
   * Share of requests answered 503, in runs: of every ten requests the first 10 × failRate fail. Runs (rather than
   * coin flips) make the flaky instance's ejection certain within its first requests, as a real instance that
   * breaks for a while does, so the demo shows it on every run and on a loaded machine.
   */
  failRate?: number;
  priority?: number;
  weight?: number;
  zone?: string;
}

export const DEMO_TOPOLOGY: readonly DemoInstance[] = [
  { service: 'web', id: 'web-1', delayMs: 3, zone: 'a' },
  { service: 'web', id: 'web-2', delayMs: 3, zone: 'b' },
  { service: 'orders', id: 'orders-1', delayMs: 6, zone: 'a' },
  { service: 'orders', id: 'orders-2', delayMs: 6, zone: 'b' },
  { service: 'orders', id: 'orders-3', delayMs: 6, zone: 'a', failRate: 0.5 }, // fails half its requests: retried, then ejected
  { service: 'users', id: 'users-1', delayMs: 4, zone: 'a' },
  { service: 'users', id: 'users-2', delayMs: 60, zone: 'b' },            // the slow one: peak-EWMA steers around it
  { service: 'users', id: 'users-backup', delayMs: 8, zone: 'c', priority: 1 }, // backup tier: idle while the primaries are up
];

export interface RunningInstance extends DemoInstance {
  address: string;
  close(): Promise<void>;
}

export async function startInstance(spec: DemoInstance, random: Random): Promise<RunningInstance> {
  let answered = 0;
  const server: Server = createServer((req, res) => {
    req.resume();
    const fail = spec.failRate !== undefined && answered++ % 10 < spec.failRate * 10;
    const delay = spec.delayMs * (0.5 + random());
    setTimeout(() => {
      res.writeHead(fail ? 503 : 200, { 'content-type': 'application/json', 'x-instance': spec.id });
      res.end(JSON.stringify({ service: spec.service, instance: spec.id, ok: !fail }));
    }, delay);
  });
  server.keepAliveTimeout = 60_000;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const { port } = server.address() as AddressInfo;
  return {
    ...spec,
    address: `127.0.0.1:${port}`,
    close: () => new Promise<void>((r) => { server.closeAllConnections(); server.close(() => r()); }),
  };
}
