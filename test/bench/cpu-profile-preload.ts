// Loaded into a benchmark's daemons with NODE_OPTIONS="--import <this file>" when MESH_BENCH_PROFILE_DIR is set
// (node refuses --cpu-prof in NODE_OPTIONS): profiles the whole process and writes daemon-<pid>.cpuprofile there
// when it exits (open it in Chrome DevTools, or sum self time per function from its samples). On SIGUSR2 it
// writes the process's memory by kind and V8's heap spaces (memory-<pid>-<time>.json) and, with
// MESH_BENCH_HEAP_SNAPSHOT=1, a heap snapshot; with MESH_BENCH_GC=1 (and node's --expose-gc) it collects first.
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
  process.on('SIGUSR2', () => {
    const gc = (globalThis as { gc?: () => void }).gc;
    if (gc && process.env.MESH_BENCH_GC) gc();
    const spaces = Object.fromEntries(getHeapSpaceStatistics().map((s) => [s.space_name, { size: s.space_size, used: s.space_used_size }]));
    writeFileSync(join(dir, `memory-${process.pid}-${Date.now()}.json`), JSON.stringify({ usage: process.memoryUsage(), spaces }, null, 1));
    if (process.env.MESH_BENCH_HEAP_SNAPSHOT) writeHeapSnapshot(join(dir, `daemon-${process.pid}.heapsnapshot`));
  });
}
