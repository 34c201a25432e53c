// The etcd store on a three-member etcd cluster: a frozen member (SIGSTOP keeps its connections open, as a
// partitioned machine would) must not hold up writes or the watch of a daemon that happens to be talking to it.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import type { InstanceSpec } from '../../src/core/types.js';
import { EtcdStore } from '../../src/registry/store/etcd/etcd-store.js';
import { startEtcdCluster, type EtcdCluster } from '../helpers/etcd-cluster.js';
import { ETCD_SKIP } from '../helpers/etcd.js';

let cluster: EtcdCluster | undefined;
const stores: EtcdStore[] = [];
before(async () => { if (!ETCD_SKIP) cluster = await startEtcdCluster(3); });
after(async () => {
  for (const s of stores) await s.close().catch(() => {});
  await cluster?.destroy();
});

const spec = (id: string): InstanceSpec => ({ service: 'web', id, address: '127.0.0.1:9000', weight: 100, priority: 0, tags: {} });

test('each member frozen in turn: writes are acknowledged and every daemon\'s watch delivers them within seconds', { skip: ETCD_SKIP, timeout: 120_000 }, async () => {
  const open = async () => {
    const s = new EtcdStore({ endpoints: cluster!.endpoints, prefix: '/frozen', probeIntervalMs: 200, memberTtlSeconds: 2 });
    stores.push(s);
    await s.open();
    return s;
  };
  const writer = await open();
  const readers = [await open(), await open(), await open()];
  // Every watch stream sits on one member: freezing each member in turn freezes the stream of some daemon.
  for (const [round, member] of cluster!.members.entries()) {
    member.freeze();
    try {
      const id = `w${round}`;
      const t0 = Date.now();
      let acked = false;
      // The writer may itself be on the frozen member or see an election: it retries as a client would.
      while (!acked && Date.now() - t0 < 8_000) {
        acked = await writer.upsert(spec(id)).then(() => true, () => false);
      }
      assert.ok(acked, `round ${round}: no acknowledgement within 8 s with ${member.name} frozen`);
      const seen = Date.now();
      // A reader whose watch sits on the frozen member learns of the write from its probes (every 200 ms, each
      // call with a 2 s deadline, so one can hang on the frozen member), restarts its watch once it has lagged a
      // committed revision for 2 s, and re-opens it on the next member: 2 s + up to one probe deadline + the
      // re-open. 4 s was under that worst case and failed CI on a busy machine; 8 s is "within seconds" with room.
      while (readers.some((r) => r.get('web', id) === undefined) && Date.now() - seen < 8_000) await new Promise((r) => setTimeout(r, 20));
      const missing = readers.filter((r) => r.get('web', id) === undefined).length;
      assert.equal(missing, 0, `round ${round}: ${missing} of 3 daemons had not seen the write 8 s after it was acknowledged, with ${member.name} frozen`);
    } finally {
      member.thaw();
    }
    await cluster!.waitHealthy();
  }
});

test('with one member down, daemons still open (their watch tries the next member) and see each other\'s writes', { skip: ETCD_SKIP, timeout: 120_000 }, async () => {
  const down = cluster!.members[0]!;
  await down.kill();
  try {
    await cluster!.waitQuorum();
    // Each store's watch starts on a member picked at random: six of them start on the dead one ~9 times in 10.
    const opened: EtcdStore[] = [];
    for (let i = 0; i < 6; i++) {
      const s = new EtcdStore({ endpoints: cluster!.endpoints, prefix: '/one-down', probeIntervalMs: 200, memberTtlSeconds: 2, openTimeoutMs: 6_000 });
      stores.push(s);
      await s.open();
      opened.push(s);
    }
    await opened[0]!.upsert(spec('after-open'));
    const t0 = Date.now();
    while (opened.some((s) => !s.get('web', 'after-open')) && Date.now() - t0 < 5_000) await new Promise((r) => setTimeout(r, 20));
    assert.equal(opened.filter((s) => !s.get('web', 'after-open')).length, 0);
  } finally {
    down.start();
    await cluster!.waitHealthy();
  }
});

test('a member killed under daemons\' watches: each re-opens its watch on another member and none goes read-only while two keep a quorum', { skip: ETCD_SKIP, timeout: 120_000 }, async () => {
  const lines: string[] = [];
  const opened: EtcdStore[] = [];
  for (let i = 0; i < 9; i++) {
    const s = new EtcdStore({ endpoints: cluster!.endpoints, prefix: '/dropped', probeIntervalMs: 200, memberTtlSeconds: 2, log: (l) => lines.push(`daemon ${i}: ${l}`) });
    stores.push(s);
    await s.open();
    opened.push(s);
  }
  const dropped = () => lines.filter((l) => /lost etcd|watch's connection dropped/.test(l)).length;
  // Watches start on members picked at random; killing each follower in turn hits some of the nine. Followers
  // only, so that no election (when etcd itself takes no writes) blurs what the daemons do.
  const leader = await cluster!.leader();
  for (const [round, victim] of cluster!.members.filter((m) => m !== leader).entries()) {
    const before = dropped();
    await victim.kill();
    try {
      const t0 = Date.now();
      while (dropped() === before && Date.now() - t0 < 5_000) await new Promise((r) => setTimeout(r, 20));
      for (const [i, s] of opened.entries()) await s.upsert(spec(`after-kill-${round}-${i}`));
      const ids = opened.map((_, i) => `after-kill-${round}-${i}`);
      const seen = Date.now();
      while (opened.some((s) => ids.some((id) => !s.get('web', id))) && Date.now() - seen < 5_000) await new Promise((r) => setTimeout(r, 20));
      assert.equal(opened.filter((s) => ids.some((id) => !s.get('web', id))).length, 0, `round ${round}: every daemon sees every write`);
    } finally {
      victim.start();
      await cluster!.waitHealthy();
    }
  }
  assert.ok(dropped() > 0, 'no daemon\'s watch was on a killed member');
  assert.deepEqual(lines.filter((l) => /lost etcd/.test(l)), [], 'no daemon declared etcd lost');
});

test('after a leader election a daemon counts TTLs from one call deadline past the new term, so a heartbeat caught on the old leader still lands in time', { skip: ETCD_SKIP, timeout: 120_000 }, async () => {
  const s = new EtcdStore({ endpoints: cluster!.endpoints, prefix: '/election', probeIntervalMs: 200, memberTtlSeconds: 2 });
  stores.push(s);
  await s.open();
  await s.upsert(spec('before-election')); // the daemon learns the current term from the write's answer
  const floor = () => s.healthPolicy().expiryFloor!();
  const before = floor();
  const leader = (await cluster!.leader())!;
  await leader.kill();
  try {
    // Writes make the daemon hear of the new term; the floor moves at that moment, which a 10 ms poll catches.
    let moved: { at: number; floor: number } | undefined;
    const poll = setInterval(() => { if (moved === undefined && floor() !== before) moved = { at: Date.now(), floor: floor() }; }, 10);
    const t0 = Date.now();
    try {
      for (let i = 0; moved === undefined && Date.now() - t0 < 20_000; i++) await s.upsert(spec(`election-${i}`)).catch(() => {});
    } finally {
      clearInterval(poll);
    }
    assert.ok(moved, 'the daemon never heard of the new term');
    assert.ok(moved.floor - moved.at >= 1_500, `TTLs count from ${moved.floor - moved.at} ms after the daemon saw the election; want the 2 s call deadline`);
  } finally {
    leader.start();
    await cluster!.waitHealthy();
  }
});
