import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ReachabilityProber, type ProberDeps, type ProbeTarget } from '../../../src/proxy/pool/reachability.js';

/** Timers a test fires by hand, and a connect whose answers the test queues. */
function fakeDeps() {
  const timers = new Map<number, { fn: () => void; ms: number }>();
  let nextId = 1;
  const answers: boolean[] = [];
  const connects: string[] = [];
  const deps: ProberDeps = {
    connect: async (address) => { connects.push(address); return answers.shift() ?? false; },
    setTimer: (fn, ms) => { const id = nextId++; timers.set(id, { fn, ms }); return id; },
    clearTimer: (h) => { timers.delete(h as number); },
  };
  /** Fires the one pending timer and lets the probe's promise settle; returns the delay it was set for. */
  const fire = async (): Promise<number> => {
    assert.equal(timers.size, 1, 'one probe timer pending');
    const [id, t] = [...timers][0]!;
    timers.delete(id);
    t.fn();
    await new Promise((r) => setImmediate(r));
    return t.ms;
  };
  return { deps, timers, answers, connects, fire };
}

function target(): ProbeTarget {
  return { key: 'orders/a', unreachableSince: 1 };
}

test('probes back off 250 ms, 500 ms, 1 s … up to 10 s, and one success returns the endpoint', async () => {
  const f = fakeDeps();
  const prober = new ReachabilityProber(f.deps);
  const t = target();
  let returned = 0;
  prober.watch(t, '127.0.0.1:9', () => { returned++; });
  prober.watch(t, '127.0.0.1:9', () => { returned += 100; }); // already watched: no second probe
  const delays: number[] = [];
  for (let i = 0; i < 7; i++) delays.push(await f.fire());
  assert.deepEqual(delays, [250, 500, 1000, 2000, 4000, 8000, 10_000]);
  assert.equal(returned, 0);
  f.answers.push(true);
  assert.equal(await f.fire(), 10_000);
  assert.equal(returned, 1);
  assert.equal(f.timers.size, 0, 'no probe after the success');
  assert.equal(prober.size, 0);
  assert.deepEqual(new Set(f.connects), new Set(['127.0.0.1:9']));
});

test('cancel stops probing, also while a connect is under way; stop cancels every probe', async () => {
  const f = fakeDeps();
  const prober = new ReachabilityProber(f.deps);
  const a = target();
  let returned = false;
  prober.watch(a, '127.0.0.1:9', () => { returned = true; });
  prober.cancel(a);
  assert.equal(f.timers.size, 0);
  // Cancelled while its connect is in flight: the success that then arrives is ignored.
  prober.watch(a, '127.0.0.1:9', () => { returned = true; });
  const [, timer] = [...f.timers][0]!;
  let release: (v: boolean) => void = () => undefined;
  f.deps.connect = () => new Promise<boolean>((r) => { release = r; });
  f.timers.clear();
  timer.fn();
  prober.cancel(a);
  release(true);
  await new Promise((r) => setImmediate(r));
  assert.equal(returned, false);
  const b = { ...target(), key: 'orders/b' };
  prober.watch(a, '127.0.0.1:9', () => undefined);
  prober.watch(b, '127.0.0.1:10', () => undefined);
  assert.equal(prober.size, 2);
  prober.stop();
  assert.equal(prober.size, 0);
  assert.equal(f.timers.size, 0);
});
