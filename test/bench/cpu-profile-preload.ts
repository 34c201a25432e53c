// Loaded into a benchmark's daemon with NODE_OPTIONS="--import <this file>" (node refuses --cpu-prof in
// NODE_OPTIONS): profiles the whole process and writes a .cpuprofile into MESH_BENCH_PROFILE_DIR when it exits,
// for `node --cpu-prof`-style analysis (Chrome DevTools, or the self-time table the registry bench prints).
import { writeFileSync } from 'node:fs';
import { Session } from 'node:inspector';
import { join } from 'node:path';
import { getHeapSpaceStatistics, writeHeapSnapshot } from 'node:v8';

const dir = process.env.MESH_BENCH_PROFILE_DIR;
if (dir) {
  const session = new Session();
  session.connect();
  session.post('Profiler.enable');
  session.post('Profiler.setSamplingInterval', { interval: 200 });
  session.post('Profiler.start');
  // The main thread's inspector session answers synchronously, so this works inside an 'exit' handler.
  process.on('exit', () => {
    session.post('Profiler.stop', (err, res) => {
      if (!err) writeFileSync(join(dir, `daemon-${process.pid}.cpuprofile`), JSON.stringify(res.profile));
    });
  });
}

// SIGUSR2: the process's memory by kind (V8 heap, external, array buffers) and V8's heap spaces, as JSON.
if (dir) {
  process.on('SIGUSR2', () => {
    {
      const gc = (globalThis as { gc?: () => void }).gc;
      if (gc && process.env.MESH_BENCH_GC) gc();
      const spaces = Object.fromEntries(getHeapSpaceStatistics().map((s) => [s.space_name, { size: s.space_size, used: s.space_used_size }]));
      writeFileSync(join(dir, `memory-${process.pid}-${Date.now()}.json`), JSON.stringify({ usage: process.memoryUsage(), spaces }, null, 1));
      if (process.env.MESH_BENCH_HEAP_SNAPSHOT) writeHeapSnapshot(join(dir, `daemon-${process.pid}.heapsnapshot`));
    }
  });
}
