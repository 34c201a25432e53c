// The health monitor loads undici (~20 MiB of RSS) only when an instance has an HTTP check: a registry of TTL
// instances never pays for it. Run in a fresh process, since the test runner itself may have undici loaded.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { test } from 'node:test';

const script = `
import { createRequire } from 'node:module';
import { createServer } from 'node:http';
const { HealthMonitor } = await import(${JSON.stringify(new URL('../../../src/registry/catalogue/health.js', import.meta.url).href)});
const { MemoryStore } = await import(${JSON.stringify(new URL('./memory-store.js', import.meta.url).href)});
const loaded = () => Object.keys(createRequire(import.meta.url).cache).some((k) => k.includes('/node_modules/undici/'));
const store = new MemoryStore();
const monitor = new HealthMonitor({ store });
monitor.start();
await store.upsert({ service: 'ttl', id: 'a', address: '127.0.0.1:1', weight: 100, priority: 0, tags: {}, check: { ttlMs: 60000 } });
const before = loaded();
const server = createServer((_req, res) => res.end('ok')).listen(0, '127.0.0.1');
await new Promise((r) => server.once('listening', r));
const url = 'http://127.0.0.1:' + server.address().port + '/healthz';
await store.upsert({ service: 'web', id: 'b', address: '127.0.0.1:1', weight: 100, priority: 0, tags: {}, check: { http: url, intervalMs: 60000 } });
for (let i = 0; i < 200 && store.get('web', 'b').health !== 'passing'; i++) await new Promise((r) => setTimeout(r, 10));
console.log(JSON.stringify({ before, after: loaded(), health: store.get('web', 'b').health }));
await monitor.stop();
server.close();
`;

test('undici is loaded at the first HTTP check, not with the health monitor', () => {
  const out = execFileSync(process.execPath, ['--input-type=module', '-e', script], { encoding: 'utf8', timeout: 20_000 });
  assert.deepEqual(JSON.parse(out.trim().split('\n').at(-1)!), { before: false, after: true, health: 'passing' });
});
