// Failover through a real proxy: an instance killed with SIGKILL under load (retries + the unreachable mark
// hide it), priority tiers (traffic spills to the backup by the capacity the primaries lost, and comes back),
// new instances picked up from the watch, and routing on the last table while the registry is down.
// Primaries killed with no health checks at all: proxy-unreachable.test.ts.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { eventually, runMesh, startMesh } from '../helpers/mesh.js';
import { startRegistry } from '../helpers/registry.js';
import { instanceOf, primariesAndBackup, register, startBackend, startProxy, viaProxy, type Reply } from '../helpers/proxy.js';

/** Sends `total` GETs with `concurrency` in flight; calls onProgress after each; returns every reply. */
async function load(port: number, service: string, total: number, concurrency: number, onProgress?: (done: number) => Promise<void> | void): Promise<Array<Reply | Error>> {
  const out: Array<Reply | Error> = [];
  let next = 0;
  const worker = async () => {
    while (next < total) {
      next++;
      out.push(await viaProxy(port, service, '/', { timeoutMs: 10_000 }).catch((e: Error) => e));
      await onProgress?.(out.length);
    }
  };
  await Promise.all(Array.from({ length: concurrency }, worker));
  return out;
}

test('a backend killed with SIGKILL under load costs no client request', { timeout: 60_000 }, async (t) => {
  const reg = await startRegistry(t);
  const backends = await Promise.all(['k-a', 'k-b', 'k-c'].map((n) => startBackend(t, n)));
  for (const b of backends) await register(reg.url, 'orders', b);
  const proxy = await startProxy(t, reg.url);
  let killed = false;
  const replies = await load(proxy.port, 'orders', 900, 8, async (done) => {
    if (done >= 150 && !killed) { killed = true; await backends[1]!.kill('SIGKILL'); }
  });
  const failed = replies.filter((r) => r instanceof Error || r.status !== 200);
  assert.equal(failed.length, 0, `failed requests: ${failed.slice(0, 3).map((f) => (f instanceof Error ? f.message : `${f.status} ${f.body}`)).join('; ')}`);
  const after = replies.slice(400).filter((r): r is Reply => !(r instanceof Error));
  assert.ok(after.every((r) => instanceOf(r) !== 'k-b'), 'the killed instance still answered');
  // Out at once: refused connects mark it unreachable; but when the pool still held several sockets to it, their
  // resets (up to one per socket, each retried elsewhere) can reach the consecutive-failure threshold first, and
  // then it is ejected as an outlier before any new connect is tried. Either way no client saw a failure.
  assert.match(proxy.daemon.stderr(), /unreachable orders\/k-b|ejected orders\/k-b/);
});

test('priority tiers: one of two primaries gone spills 30% to the backup, both gone sends it all, and traffic returns', { timeout: 60_000 }, async (t) => {
  const reg = await startRegistry(t);
  const p1 = await startBackend(t, 'p1');
  const p2 = await startBackend(t, 'p2');
  const bk = await startBackend(t, 'backup');
  const check = (b: { address: string }) => ['--check-tcp', b.address, '--interval', '200ms', '--timeout', '100ms'];
  await register(reg.url, 'orders', p1, check(p1));
  await register(reg.url, 'orders', p2, check(p2));
  await register(reg.url, 'orders', bk, ['--priority', '1', ...check(bk)]);
  // Default outlier settings (30 s ejections): a restarted primary is back as soon as its health check passes
  // again, whether or not passive detection ejected it meanwhile.
  const proxy = await startProxy(t, reg.url);

  /** Which instance answered each of n sequential requests, as "name:count" sorted, e.g. "backup:6,p2:14". */
  const split = async (n: number) => {
    const counts = new Map<string, number>();
    for (let i = 0; i < n; i++) {
      const r = await viaProxy(proxy.port, 'orders', '/');
      const who = r.status === 200 ? instanceOf(r) : `status-${r.status}`;
      counts.set(who, (counts.get(who) ?? 0) + 1);
    }
    return [...counts].sort(([a], [b]) => (a < b ? -1 : 1)).map(([k, v]) => `${k}:${v}`).join(',');
  };
  const settles = async (expected: string) => {
    let last = '';
    await eventually(async () => (last = await split(20)) === expected, 10_000).catch(() => assert.fail(`expected ${expected}, last saw ${last}`));
  };
  await settles('p1:10,p2:10');

  // Tier 0 keeps 1.4 × its eligible share (50%) = 70% of the traffic; the tiers take turns by smooth weighted
  // round robin, so every 20 requests split exactly 14:6.
  await p1.kill('SIGKILL');
  await settles('backup:6,p2:14');

  await p2.kill('SIGKILL');
  await settles('backup:20');

  await startBackend(t, 'p1', p1.port);
  await settles('backup:6,p1:14');
});

test('a retry that has tried every primary goes to the backup before ejection catches up', { timeout: 30_000 }, async (t) => {
  const { proxy, p1, p2 } = await primariesAndBackup(t);
  await eventually(async () => (await viaProxy(proxy.port, 'orders', '/')).status === 200, 5_000);
  // One primary answers 503, the other refuses connections: two tries use up tier 0 (default retries: 2),
  // and the third goes to the backup — from the very first request, long before 5 failures eject anything.
  await p1.mode(503);
  await p2.kill('SIGKILL');
  for (let i = 0; i < 3; i++) {
    const r = await viaProxy(proxy.port, 'orders', '/');
    assert.equal(r.status, 200, `request ${i}: ${r.status} ${r.body}`);
    assert.equal(instanceOf(r), 'backup');
  }
  assert.doesNotMatch(proxy.daemon.stderr(), /ejected/);
});

test('the table follows the registry, and survives its outage', { timeout: 60_000 }, async (t) => {
  const reg = await startRegistry(t);
  const a = await startBackend(t, 'w-a');
  await register(reg.url, 'orders', a);
  const proxy = await startProxy(t, reg.url);
  assert.equal(instanceOf(await viaProxy(proxy.port, 'orders', '/')), 'w-a');

  // A new instance takes traffic soon after it registers (the watch pushes it; we assert that, not the speed).
  const b = await startBackend(t, 'w-b');
  await register(reg.url, 'orders', b);
  await eventually(async () => {
    const s = new Set<string>();
    for (let i = 0; i < 4; i++) s.add(instanceOf(await viaProxy(proxy.port, 'orders', '/')));
    return s.has('w-b');
  }, 5_000, 10);

  // A deregistered one takes no new requests.
  const r = await runMesh(['deregister', 'orders', 'w-a', '--registry', reg.url]);
  assert.equal(r.code, 0, r.stderr);
  await eventually(async () => {
    const s = new Set<string>();
    for (let i = 0; i < 6; i++) s.add(instanceOf(await viaProxy(proxy.port, 'orders', '/')));
    return s.size === 1 && s.has('w-b');
  }, 5_000);

  // Registry down: the proxy says so once and keeps routing on its last table.
  await reg.daemon.stop('SIGKILL');
  await proxy.daemon.waitFor(/registry unreachable .*routing on the last table/);
  for (let i = 0; i < 10; i++) assert.equal((await viaProxy(proxy.port, 'orders', '/')).status, 200);
  assert.equal(proxy.daemon.stderr().match(/registry unreachable/g)?.length, 1, 'the outage should be logged once');

  // The registry comes back (same address, same data): the watch resumes and new registrations flow again.
  const again = startMesh(['registry', 'start', '--listen', reg.url.replace(/^http:\/\//, ''), '--data-dir', reg.dataDir]);
  t.after(async () => { await again.stop('SIGKILL'); });
  await again.waitFor(/listening on/);
  await proxy.daemon.waitFor(/reachable again; watch resumed/, 15_000);
  const c = await startBackend(t, 'w-c');
  await register(reg.url, 'orders', c);
  await eventually(async () => {
    const s = new Set<string>();
    for (let i = 0; i < 4; i++) s.add(instanceOf(await viaProxy(proxy.port, 'orders', '/')));
    return s.has('w-c');
  }, 5_000, 10);
});
