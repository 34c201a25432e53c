// The registry daemon's memory budget, set from inside the process (it must hold however `mesh` was started:
// `npx mesh`, `node bin/mesh`, a systemd unit; V8's heap-size flags can only be given on node's command line).
//
// Why: V8 sizes its heap for throughput. A burst of registrations makes it grow the young generation to its
// 16 MiB-per-semi-space maximum (32 MiB committed) and let the old generation run to ~2x the live data before a
// full collection; neither is handed back until V8's memory reducer runs after ~30 s of idleness, which a daemon
// that takes heartbeats never has. Measured with 10,000 instances on etcd: 26 MiB of live heap, 136 MiB RSS.
// Two knobs bring that to ~100 MiB at no measurable CPU cost (bench:registry):
//   - the young generation stops growing at 4 MiB per semi-space (what `--max-semi-space-size=4` does; V8 reads
//     that flag only at start-up, so this steers the growth factor, which it reads at every growth). Leaving it
//     at its initial 1 MiB cost ~40% more CPU per registration: scavenges every megabyte promote in-flight
//     requests to the old generation;
//   - the old generation is collected when it has grown 50% past what survived the last full collection
//     (`--heap-growing-percent`, read at every collection), instead of V8's default of up to 4x.
// The proxy keeps V8's defaults: its allocation rate per request is far higher and it holds little. Heap flags
// given to node (`NODE_OPTIONS=--max-semi-space-size=…`, `--max-old-space-size`) win: the budget is then not applied.
import { getHeapSpaceStatistics, setFlagsFromString } from 'node:v8';

export interface HeapBudget {
  /** Largest young-generation semi-space, MiB. */
  semiSpaceMiB: number;
  /** Old-generation growth between full collections, percent of the live size. */
  oldGrowthPercent: number;
}

export const REGISTRY_HEAP_BUDGET: HeapBudget = { semiSpaceMiB: 4, oldGrowthPercent: 50 };

const HEAP_FLAG = /--(?:max[-_](?:semi|old)[-_]space[-_]size|max[-_]young[-_]generation[-_]size|max[-_]heap[-_]size|heap[-_]growing[-_]percent|semi[-_]space[-_]growth[-_]factor)/;

/** Whether node was started with heap-size flags of its own (then the budget stays out of the way). */
export function heapFlagsGiven(execArgv: readonly string[], nodeOptions: string | undefined): boolean {
  return execArgv.some((a) => HEAP_FLAG.test(a)) || HEAP_FLAG.test(nodeOptions ?? '');
}

/** The young generation's committed size (both semi-spaces), bytes. */
function youngGenerationBytes(): number {
  return getHeapSpaceStatistics().find((s) => s.space_name === 'new_space')?.space_size ?? 0;
}

/** How often the young generation's size is looked at until it has reached its cap. */
const CHECK_EVERY_MS = 20;

/**
 * Applies `budget` to this process's V8 heap; call it first thing. The young generation does not grow until
 * `allowGrowth` is called (once the daemon has started: start-up's module loading allocates in synchronous bursts
 * that could outrun any check), then doubles as V8 does until it reaches its cap, and stops there.
 */
export function applyHeapBudget(budget: HeapBudget = REGISTRY_HEAP_BUDGET): { allowGrowth: () => void } {
  setFlagsFromString(`--heap-growing-percent=${budget.oldGrowthPercent}`);
  setFlagsFromString('--semi-space-growth-factor=1');
  const capBytes = 2 * budget.semiSpaceMiB * 1024 * 1024;
  let timer: NodeJS.Timeout | undefined;
  const allowGrowth = () => {
    const now = youngGenerationBytes();
    if (now >= capBytes || timer !== undefined) return;
    // V8's own doubling, watched: a step is taken only once as many megabytes as the space holds have survived
    // since the last one, so the step past the cap needs ~4 MiB of survivors (at 5,000 registrations/s the daemon
    // keeps ~13 MB/s: ~300 ms); a check every 20 ms (a few microseconds, only until the cap) freezes it first.
    setFlagsFromString('--semi-space-growth-factor=2');
    timer = setInterval(() => {
      if (youngGenerationBytes() < capBytes) return;
      setFlagsFromString('--semi-space-growth-factor=1');
      clearInterval(timer);
    }, CHECK_EVERY_MS).unref();
  };
  return { allowGrowth };
}
