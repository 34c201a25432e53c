// The registry's DNS interface, asked by real clients: dig (Debian dnsutils) and Node's dns.Resolver, against a
// real `mesh registry start --dns` on loopback.
import assert from 'node:assert/strict';
import { Resolver } from 'node:dns/promises';
import { test } from 'node:test';
import type { InstanceSpec } from '../../src/core/types.js';
import { dig, DIG_SKIP, startDnsRegistry } from '../helpers/dns.js';
import { runMesh, startMesh, tempDir } from '../helpers/mesh.js';

const spec = (service: string, id: string, address: string, extra: Partial<InstanceSpec> = {}): InstanceSpec =>
  ({ service, id, address, weight: 100, priority: 0, tags: {}, ...extra });

const ips = (records: { type: string; data: string }[], type = 'A') => records.filter((r) => r.type === type).map((r) => r.data).sort();

test('A answers: instances taking traffic only, at most --dns-max-answers, case-insensitive, authoritative', { skip: DIG_SKIP, timeout: 60_000 }, async (t) => {
  const reg = await startDnsRegistry(t);
  for (let i = 1; i <= 5; i++) await reg.client.register(spec('web', `w${i}`, `127.0.0.${i}:8080`, { check: { ttlMs: 60_000 } }));
  await reg.client.heartbeat('web', 'w1', { status: 'critical', output: 'down' });
  await reg.client.heartbeat('web', 'w2', { status: 'warning', output: 'slow' });
  const seen = new Set<string>();
  for (let i = 0; i < 30; i++) {
    const r = await dig(reg.dnsPort, ['web.service.mesh', 'A']);
    assert.equal(r.status, 'NOERROR');
    assert.ok(r.flags.includes('aa'), `authoritative: ${r.flags.join(' ')}`);
    assert.equal(r.answers.length, 3, 'the default --dns-max-answers is 3');
    for (const a of r.answers) { seen.add(a.data); assert.equal(a.ttl, 0, 'the default TTL is 0'); }
  }
  assert.ok(!seen.has('127.0.0.1'), 'a critical instance is never handed out');
  assert.ok(seen.has('127.0.0.2'), 'a warning instance takes traffic by default');
  assert.deepEqual([...seen].sort(), ['127.0.0.2', '127.0.0.3', '127.0.0.4', '127.0.0.5'], 'answers rotate over every instance taking traffic');

  const mixed = await dig(reg.dnsPort, ['WeB.SeRvIcE.MeSh', 'A']);
  assert.equal(mixed.status, 'NOERROR');
  assert.equal(mixed.answers.length, 3);
  assert.equal(mixed.answers[0]!.name, 'WeB.SeRvIcE.MeSh.', 'the question name is echoed as asked');
});

test('a health change is in the very next answer (the DNS view follows the catalogue synchronously)', { skip: DIG_SKIP, timeout: 60_000 }, async (t) => {
  const reg = await startDnsRegistry(t, ['--dns-max-answers', '10']);
  await reg.client.register(spec('api', 'a1', '127.0.0.1:9000', { check: { ttlMs: 60_000 } }));
  await reg.client.register(spec('api', 'a2', '127.0.0.2:9000', { check: { ttlMs: 60_000 } }));
  assert.deepEqual(ips((await dig(reg.dnsPort, ['api.service.mesh'])).answers), ['127.0.0.1', '127.0.0.2']);
  await reg.client.heartbeat('api', 'a2', { status: 'critical', output: 'failing' });
  assert.deepEqual(ips((await dig(reg.dnsPort, ['api.service.mesh'])).answers), ['127.0.0.1'], 'gone from the first answer after the change');
  await reg.client.heartbeat('api', 'a1', { status: 'critical', output: 'failing' });
  const none = await dig(reg.dnsPort, ['api.service.mesh']);
  assert.equal(none.status, 'NOERROR', 'the service still exists: NODATA, not NXDOMAIN');
  assert.equal(none.answers.length, 0);
  await reg.client.heartbeat('api', 'a2', { status: 'passing' });
  assert.deepEqual(ips((await dig(reg.dnsPort, ['api.service.mesh'])).answers), ['127.0.0.2'], 'back in the first answer after recovering');
});

test('SRV: port, priority (tier), weight and an addr target with its glue; host names as targets and CNAME', { skip: DIG_SKIP, timeout: 60_000 }, async (t) => {
  const reg = await startDnsRegistry(t);
  await reg.client.register(spec('orders', 'o1', '127.0.0.11:7001', { weight: 50 }));
  await reg.client.register(spec('orders', 'o2', '[::1]:7002', { weight: 200 }));
  await reg.client.register(spec('orders', 'o3', '127.0.0.13:7003', { priority: 1 }));
  await reg.client.register(spec('db', 'd1', 'localhost:5432'));
  for (const name of ['_orders._tcp.service.mesh', 'orders.service.mesh']) {
    const r = await dig(reg.dnsPort, [name, 'SRV']);
    assert.equal(r.status, 'NOERROR');
    const srv = r.answers.map((a) => a.data).sort();
    assert.deepEqual(srv, [
      '0 200 7002 00000000000000000000000000000001.addr.mesh.',
      '0 50 7001 7f00000b.addr.mesh.',
      '1 100 7003 7f00000d.addr.mesh.',
    ]);
    assert.deepEqual(r.additional.filter((a) => a.type !== 'OPT').map((a) => `${a.name} ${a.type} ${a.data}`).sort(), [
      '00000000000000000000000000000001.addr.mesh. AAAA ::1',
      '7f00000b.addr.mesh. A 127.0.0.11',
      '7f00000d.addr.mesh. A 127.0.0.13',
    ]);
  }
  // A answers come from the active tier only (tier 0): o1; its backup o3 is not handed out while o1 is up.
  assert.deepEqual(ips((await dig(reg.dnsPort, ['orders.service.mesh', 'A'])).answers), ['127.0.0.11']);
  assert.deepEqual(ips((await dig(reg.dnsPort, ['orders.service.mesh', 'AAAA'])).answers, 'AAAA'), ['::1']);
  const target = await dig(reg.dnsPort, ['7f00000b.addr.mesh', 'A']);
  assert.deepEqual(ips(target.answers), ['127.0.0.11'], 'an SRV target resolves');

  const db = await dig(reg.dnsPort, ['db.service.mesh', 'A']);
  assert.deepEqual(db.answers.map((a) => `${a.type} ${a.data}`), ['CNAME localhost.'], 'a host name instance is a CNAME');
  const dbSrv = await dig(reg.dnsPort, ['_db._tcp.service.mesh', 'SRV']);
  assert.deepEqual(dbSrv.answers.map((a) => a.data), ['0 100 5432 localhost.']);

  const any = await dig(reg.dnsPort, ['orders.service.mesh', 'ANY']);
  assert.deepEqual(any.answers.map((a) => a.type), ['A'], 'ANY is answered minimally (RFC 8482): one RRset');
});

test('tags: <value>.<key>.<service>.service.mesh filters; unknown names NXDOMAIN with SOA; NODATA; REFUSED outside', { skip: DIG_SKIP, timeout: 60_000 }, async (t) => {
  const reg = await startDnsRegistry(t, ['--dns-max-answers', '10', '--dns-ttl', '5s']);
  await reg.client.register(spec('web', 'v1a', '127.0.0.1:80', { tags: { version: 'v1' } }));
  await reg.client.register(spec('web', 'v2a', '127.0.0.2:80', { tags: { version: 'v2', 'app.io/team': 'blue' } }));
  await reg.client.register(spec('web', 'v2b', '127.0.0.3:80', { tags: { version: 'V2' } }));
  const v2 = await dig(reg.dnsPort, ['v2.version.web.service.mesh']);
  assert.deepEqual(ips(v2.answers), ['127.0.0.2', '127.0.0.3'], 'tag values match case-insensitively');
  assert.equal(v2.answers[0]!.ttl, 5, '--dns-ttl');
  assert.deepEqual(ips((await dig(reg.dnsPort, ['v1.version.web.service.mesh'])).answers), ['127.0.0.1']);

  for (const name of ['v3.version.web.service.mesh', 'nope.service.mesh', 'x.y.z.web.service.mesh', 'other.mesh']) {
    const r = await dig(reg.dnsPort, [name]);
    assert.equal(r.status, 'NXDOMAIN', name);
    assert.equal(r.answers.length, 0);
    assert.equal(r.authority.length, 1, `${name}: an SOA in the authority section`);
    assert.equal(r.authority[0]!.type, 'SOA');
    assert.match(r.authority[0]!.data, /^ns\.mesh\. hostmaster\.mesh\. \d+ 3600 600 86400 5$/);
  }
  const nodata = await dig(reg.dnsPort, ['web.service.mesh', 'AAAA']);
  assert.equal(nodata.status, 'NOERROR');
  assert.equal(nodata.answers.length, 0, 'NODATA for a known name and a missing type');
  assert.equal(nodata.authority[0]?.type, 'SOA');
  const ent = await dig(reg.dnsPort, ['version.web.service.mesh']);
  assert.equal(ent.status, 'NOERROR', 'the parent of a tag name exists (empty non-terminal)');

  assert.equal((await dig(reg.dnsPort, ['mesh', 'AXFR', '+tcp'])).raw.includes('Transfer failed'), true, 'no zone transfers');
  assert.equal((await dig(reg.dnsPort, ['version.bind', 'TXT', 'CH'])).status, 'REFUSED', 'other classes are refused');
  const outside = await dig(reg.dnsPort, ['example.com']);
  assert.equal(outside.status, 'REFUSED', 'no recursion without --dns-recursor');
  assert.ok(!outside.flags.includes('ra'));
});

test('truncation: 20 instances overflow 512 bytes; TC set, dig retries over TCP; +bufsize and +tcp get everything', { skip: DIG_SKIP, timeout: 60_000 }, async (t) => {
  const reg = await startDnsRegistry(t, ['--dns-max-answers', '20']);
  for (let i = 1; i <= 20; i++) await reg.client.register(spec('big', `b${i}`, `127.0.1.${i}:8000`));
  const plain = await dig(reg.dnsPort, ['big.service.mesh', '+noedns', '+ignore']);
  assert.ok(plain.flags.includes('tc'), `TC set: ${plain.flags.join(' ')}`);
  assert.ok(plain.answers.length > 0 && plain.answers.length < 20, `a partial answer: ${plain.answers.length}`);
  const retried = await dig(reg.dnsPort, ['big.service.mesh', '+noedns']);
  assert.equal(retried.answers.length, 20, 'dig retried over TCP after TC');
  assert.match(retried.raw, /Truncated, retrying in TCP mode/);
  const tcp = await dig(reg.dnsPort, ['big.service.mesh', '+tcp']);
  assert.equal(tcp.answers.length, 20);
  assert.ok(!tcp.flags.includes('tc'));
  const edns = await dig(reg.dnsPort, ['big.service.mesh', '+bufsize=4096', '+ignore']);
  assert.equal(edns.answers.length, 20, 'an EDNS0 buffer of 4096 bytes takes all 20');
  assert.ok(!edns.flags.includes('tc'));
  assert.match(edns.raw, /EDNS: version: 0, flags:; udp: 4096/);
  const small = await dig(reg.dnsPort, ['big.service.mesh', 'SRV', '+bufsize=512', '+ignore']);
  assert.ok(small.flags.includes('tc'), 'SRV for 20 instances does not fit 512 bytes either');
  const metrics = await fetch(`${reg.url}/v1/metrics`).then((r) => r.text());
  assert.match(metrics, /mesh_registry_dns_truncated_total [1-9]/);
  assert.match(metrics, /mesh_registry_dns_responses_total\{transport="tcp",rcode="NOERROR"\} [1-9]/);
});

test('Node\'s dns.Resolver with setServers: resolve4, resolveSrv, ENOTFOUND', { skip: DIG_SKIP, timeout: 60_000 }, async (t) => {
  const reg = await startDnsRegistry(t);
  await reg.client.register(spec('cache', 'c1', '127.0.0.7:6379'));
  const resolver = new Resolver({ timeout: 5_000, tries: 3 });
  resolver.setServers([`127.0.0.1:${reg.dnsPort}`]);
  assert.deepEqual(await resolver.resolve4('cache.service.mesh'), ['127.0.0.7']);
  assert.deepEqual(await resolver.resolveSrv('_cache._tcp.service.mesh'), [{ name: '7f000007.addr.mesh', port: 6379, priority: 0, weight: 100 }]);
  await assert.rejects(resolver.resolve4('nothing.service.mesh'), (err: NodeJS.ErrnoException) => err.code === 'ENOTFOUND');
  await assert.rejects(resolver.resolve4('example.com'), (err: NodeJS.ErrnoException) => err.code === 'EREFUSED');
});

test('--dns-recursor forwards names outside the domain (UDP and TCP); --dns-only-passing drops warning instances', { skip: DIG_SKIP, timeout: 60_000 }, async (t) => {
  const upstream = await startDnsRegistry(t, ['--dns-domain', 'other.test']);
  await upstream.client.register(spec('far', 'f1', '127.0.0.42:1'));
  const front = await startDnsRegistry(t, ['--dns-recursor', `127.0.0.1:${upstream.dnsPort}`, '--dns-only-passing']);
  for (const transport of ['+notcp', '+tcp']) {
    const r = await dig(front.dnsPort, ['far.service.other.test', transport]);
    assert.equal(r.status, 'NOERROR', transport);
    assert.deepEqual(ips(r.answers), ['127.0.0.42']);
  }
  const local = await dig(front.dnsPort, ['nothing.service.mesh']);
  assert.equal(local.status, 'NXDOMAIN', 'names in its own domain are still answered here');
  assert.ok(local.flags.includes('ra'), 'recursion is available with a recursor');

  await front.client.register(spec('web', 'w1', '127.0.0.1:80', { check: { ttlMs: 60_000 } }));
  await front.client.register(spec('web', 'w2', '127.0.0.2:80', { check: { ttlMs: 60_000 } }));
  await front.client.heartbeat('web', 'w2', { status: 'warning' });
  for (let i = 0; i < 5; i++) assert.deepEqual(ips((await dig(front.dnsPort, ['web.service.mesh'])).answers), ['127.0.0.1']);
  const metrics = await fetch(`${front.url}/v1/metrics`).then((r) => r.text());
  assert.match(metrics, /mesh_registry_dns_forwarded_total\{result="answered"\} 2/);
});

test('a bad --dns flag is one line and exit 2; a taken port is one line and exit 1', { timeout: 90_000 }, async (t) => {
  const dir = tempDir('mesh-dns-flags-');
  t.after(dir.cleanup);
  for (const [args, re] of [
    [['--dns', 'nonsense'], /--dns: invalid dns "nonsense"/],
    [['--dns', '127.0.0.1:0', '--dns-domain', 'bad..name!'], /--dns-domain: invalid DNS domain/],
    [['--dns', '127.0.0.1:0', '--dns-max-answers', '0'], /--dns-max-answers: invalid value "0"/],
    [['--dns', '127.0.0.1:0', '--dns-ttl', '1.5s'], /--dns-ttl: use whole seconds/],
    [['--dns-recursor', '127.0.0.1:53'], /--dns-recursor needs --dns/],
  ] as [string[], RegExp][]) {
    const d = startMesh(['registry', 'start', '--listen', '127.0.0.1:0', '--data-dir', dir.path, ...args]);
    const { code } = await d.exited;
    assert.equal(code, 2, `${args.join(' ')}: ${d.stderr()}`);
    assert.match(d.stderr(), re);
    assert.equal(d.stderr().trim().split('\n').length, 1, d.stderr());
  }
  const first = await startDnsRegistry(t);
  const second = startMesh(['registry', 'start', '--listen', '127.0.0.1:0', '--data-dir', `${dir.path}/b`, '--dns', `127.0.0.1:${first.dnsPort}`]);
  const { code } = await second.exited;
  assert.equal(code, 1, second.stderr());
  assert.match(second.stderr(), /cannot serve DNS on udp 127\.0\.0\.1:\d+: the address is already in use/);
});

test('mesh registry status shows where the daemon answers DNS (and --json carries it)', { timeout: 60_000 }, async (t) => {
  const reg = await startDnsRegistry(t);
  const text = await runMesh(['registry', 'status', '--registry', reg.url]);
  assert.equal(text.code, 0, text.stderr);
  assert.match(text.stdout, new RegExp(`^dns: +127\\.0\\.0\\.1:${reg.dnsPort} \\(domain mesh\\.\\)$`, 'm'));
  const json = await runMesh(['registry', 'status', '--json', '--registry', reg.url]);
  const parsed = JSON.parse(json.stdout) as { dns?: string; dnsDomain?: string };
  assert.equal(parsed.dns, `127.0.0.1:${reg.dnsPort}`);
  assert.equal(parsed.dnsDomain, 'mesh');
});
