// Query → answer against a DNS view fed by a real WatchHub over the in-memory test store; the random source is
// seeded so orders are deterministic.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { Answer } from 'dns-packet';
import type { InstanceSpec } from '../../../../src/core/types.js';
import { DnsCatalogue } from '../../../../src/registry/dns/catalogue.js';
import { OUTSIDE, Resolver, weightedOrder, type Resolution } from '../../../../src/registry/dns/resolve.js';
import { WatchHub } from '../../../../src/registry/catalogue/watch-hub.js';
import { MemoryStore } from '../memory-store.js';

function seeded(seed: number): () => number {
  let s = seed;
  return () => { s = (s * 1103515245 + 12345) % 2 ** 31; return s / 2 ** 31; };
}

async function setup(specs: Partial<InstanceSpec>[], settings: Partial<{ maxAnswers: number; onlyPassing: boolean }> = {}) {
  const store = new MemoryStore();
  for (const s of specs) await store.upsert({ service: 'web', id: s.address!, weight: 100, priority: 0, tags: {}, ...s } as InstanceSpec);
  const hub = new WatchHub(store);
  const view = new DnsCatalogue(hub);
  const resolver = new Resolver(view, { domain: 'mesh', maxAnswers: 3, ttlSeconds: 0, onlyPassing: false, ...settings }, seeded(7));
  return { store, resolver };
}

const ask = (r: Resolver, name: string, type = 'A') => r.resolve({ name, type: type as 'A' }) as Resolution;
const data = (answers: Answer[]) => answers.map((a) => ('data' in a ? (typeof a.data === 'string' ? a.data : JSON.stringify(a.data)) : '')).sort();

test('A: the active tier only; the backup tier once every primary is down', async () => {
  const { store, resolver } = await setup([
    { address: '10.0.0.1:80' }, { address: '10.0.0.2:80' }, { address: '10.0.0.3:80', priority: 1 },
  ]);
  assert.deepEqual(data(ask(resolver, 'web.service.mesh').answers), ['10.0.0.1', '10.0.0.2']);
  await store.setHealth('web', '10.0.0.1:80', 'critical');
  await store.setHealth('web', '10.0.0.2:80', 'critical');
  assert.deepEqual(data(ask(resolver, 'web.service.mesh').answers), ['10.0.0.3']);
});

test('warning instances answer unless onlyPassing; nothing taking traffic is NODATA, an unknown service NXDOMAIN', async () => {
  const a = await setup([{ address: '10.0.0.1:80' }, { address: '10.0.0.2:80' }]);
  await a.store.setHealth('web', '10.0.0.2:80', 'warning');
  assert.deepEqual(data(ask(a.resolver, 'web.service.mesh').answers), ['10.0.0.1', '10.0.0.2']);
  const b = await setup([{ address: '10.0.0.1:80' }, { address: '10.0.0.2:80' }], { onlyPassing: true });
  await b.store.setHealth('web', '10.0.0.2:80', 'warning');
  assert.deepEqual(data(ask(b.resolver, 'web.service.mesh').answers), ['10.0.0.1']);
  await b.store.setHealth('web', '10.0.0.1:80', 'critical');
  const nodata = ask(b.resolver, 'web.service.mesh');
  assert.equal(nodata.rcode, 'NOERROR');
  assert.equal(nodata.answers.length, 0);
  assert.equal(nodata.authorities[0]!.type, 'SOA');
  assert.equal(ask(b.resolver, 'api.service.mesh').rcode, 'NXDOMAIN');
  assert.equal(b.resolver.resolve({ name: 'example.com', type: 'A' }), OUTSIDE);
});

test('host names: CNAME when the tier has host names only; in a mixed tier the IPs answer', async () => {
  const only = await setup([{ address: 'db1.internal:5432' }]);
  assert.deepEqual(ask(only.resolver, 'web.service.mesh').answers.map((a) => [a.type, 'data' in a && a.data]), [['CNAME', 'db1.internal']]);
  assert.deepEqual(ask(only.resolver, 'web.service.mesh', 'CNAME').answers.map((a) => a.type), ['CNAME']);
  const mixed = await setup([{ address: 'db1.internal:5432' }, { address: '10.0.0.5:5432' }]);
  assert.deepEqual(data(ask(mixed.resolver, 'web.service.mesh').answers), ['10.0.0.5']);
  assert.equal(ask(mixed.resolver, 'web.service.mesh', 'CNAME').answers.length, 0);
  const srv = ask(mixed.resolver, '_web._tcp.service.mesh', 'SRV');
  assert.deepEqual(srv.answers.map((a) => 'data' in a && (a.data as { target: string }).target).sort(), ['0a000005.addr.mesh', 'db1.internal']);
  assert.deepEqual(srv.additionals.map((a) => a.name), ['0a000005.addr.mesh'], 'glue only for addr targets');
});

test('several instances on one host are one A record', async () => {
  const { resolver } = await setup([{ address: '10.0.0.1:80' }, { address: '10.0.0.1:81' }]);
  assert.deepEqual(data(ask(resolver, 'web.service.mesh').answers), ['10.0.0.1']);
});

test('weightedOrder: first picks follow the weights; the limit caps the list', () => {
  const items = [{ id: 'a', weight: 300 }, { id: 'b', weight: 100 }];
  const rand = seeded(42);
  let firstA = 0;
  const N = 4_000;
  for (let i = 0; i < N; i++) if (weightedOrder(items, 2, rand)[0]!.id === 'a') firstA++;
  const share = firstA / N;
  assert.ok(share > 0.7 && share < 0.8, `a (weight 300 of 400) comes first ${(share * 100).toFixed(1)}% of the time, expected about 75%`);
  assert.equal(weightedOrder(items, 1, rand).length, 1);
});
