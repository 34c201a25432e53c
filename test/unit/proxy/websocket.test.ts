// Upgrade pass-through bookkeeping, with a stub service and real loopback sockets.
import assert from 'node:assert/strict';
import type { IncomingMessage } from 'node:http';
import { createServer, connect, type Socket } from 'node:net';
import { test } from 'node:test';
import { seededRandom } from '../../../src/core/clock.js';
import { DEFAULT_CONFIG } from '../../../src/config/proxy-config.js';
import { UpstreamPools } from '../../../src/proxy/upstream/pools.js';
import type { ProxyServerDeps } from '../../../src/proxy/server-deps.js';
import { handleUpgrade } from '../../../src/proxy/http1/websocket.js';

test('a client that hangs up before the upstream connects is not counted as an upstream failure', { timeout: 10_000 }, async (t) => {
  const upstream = createServer((s) => s.destroy());
  await new Promise<void>((r) => upstream.listen(0, '127.0.0.1', r));
  t.after(() => upstream.close());
  const address = `127.0.0.1:${(upstream.address() as { port: number }).port}`;
  // A client socket of our own: a loopback pair from a throwaway listener.
  const front = createServer();
  await new Promise<void>((r) => front.listen(0, '127.0.0.1', r));
  t.after(() => front.close());
  const accepted = new Promise<Socket>((r) => front.once('connection', r));
  const caller = connect((front.address() as { port: number }).port, '127.0.0.1');
  caller.on('error', () => undefined);
  const client = await accepted;

  const tries: Array<{ ok: boolean; status: number }> = [];
  let ended!: (v: { status: number; cause: string | undefined }) => void;
  const requestEnded = new Promise<{ status: number; cause: string | undefined }>((r) => { ended = r; });
  const ep = { key: 'chat/a', id: 'a', address, weight: 1, priority: 0, inFlight: 0, tags: {} };
  const service = {
    name: 'chat',
    admit: () => true,
    refused: () => undefined,
    pick: () => ep,
    tryStarted: () => undefined,
    tryEnded: (_e: unknown, ok: boolean, _l: number, status: number) => { tries.push({ ok, status }); },
    takeRetry: () => false,
    requestEnded: (status: number, _l: number, _r: boolean, cause: string | undefined) => ended({ status, cause }),
  };
  const deps = {
    directory: { get: () => service }, pools: new UpstreamPools(1000), config: () => DEFAULT_CONFIG,
    random: seededRandom(1), draining: () => false, tunnels: new Set<Socket>(),
  } as unknown as ProxyServerDeps;
  const req = { url: '/ws', method: 'GET', headers: { host: 'chat' }, rawHeaders: ['Host', 'chat', 'Upgrade', 'websocket', 'Connection', 'Upgrade'], socket: client } as unknown as IncomingMessage;
  handleUpgrade(deps, req, client, Buffer.alloc(0));
  client.destroy(); // before the upstream connection can complete

  const end = await requestEnded;
  caller.destroy();
  assert.deepEqual(tries, [{ ok: true, status: 499 }], 'the try ends as aborted by the client, not as a failure of the endpoint');
  assert.equal(end.status, 499);
  assert.equal(end.cause, undefined);
});
