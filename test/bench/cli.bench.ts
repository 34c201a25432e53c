// How long a `mesh` call takes from a user's shell, against the floor of starting Node at all: `node -e 0`,
// `mesh --version`, `mesh --help` and `mesh services` against a running registry, each a fresh process.
// Rounds interleave the commands so machine noise hits them alike; the median of each is reported, with its
// ratio to `node -e 0`. Targets (issue 9): --version ≤ 1.5× node -e 0, services ≤ 250 ms.
// Usage: npm run bench:cli [-- --rounds 30]
import { spawnSync } from 'node:child_process';
import { MESH_BIN, runMesh, startMesh, tempDir, type Daemon } from '../helpers/mesh.js';

const roundsArg = process.argv.indexOf('--rounds');
const ROUNDS = Math.min(200, Math.max(3, roundsArg > 0 ? Number(process.argv[roundsArg + 1]) : 21));

function wallMs(args: string[]): number {
  const env = { ...process.env, NO_COLOR: '1' };
  const start = process.hrtime.bigint();
  const r = spawnSync(process.execPath, args, { env, stdio: ['ignore', 'ignore', 'pipe'], timeout: 10_000 });
  const ms = Number(process.hrtime.bigint() - start) / 1e6;
  if (r.status !== 0) throw new Error(`node ${args.join(' ')} exited ${r.status}: ${r.stderr}`);
  return ms;
}

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  const mid = s.length >> 1;
  return s.length % 2 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
};

async function main(): Promise<void> {
  const dir = tempDir('mesh-cli-bench-');
  const daemons: Daemon[] = [];
  try {
    const reg = startMesh(['registry', 'start', '--listen', '127.0.0.1:0', '--data-dir', dir.path]);
    daemons.push(reg);
    const registry = (await reg.waitFor(/listening on (http:\/\/[\d.:]+)/))[1]!;
    for (let i = 1; i <= 3; i++) {
      const r = await runMesh(['register', 'orders', '--address', `127.0.0.1:${9000 + i}`, '--registry', registry]);
      if (r.code !== 0) throw new Error(r.stderr);
    }
    const cases: Array<[string, string[]]> = [
      ['node -e 0', ['-e', '0']],
      ['mesh --version', [MESH_BIN, '--version']],
      ['mesh --help', [MESH_BIN, '--help']],
      ['mesh services', [MESH_BIN, 'services', '--registry', registry]],
    ];
    const samples = new Map(cases.map(([name]) => [name, [] as number[]]));
    for (const [, args] of cases) wallMs(args); // warm the page cache once
    for (let round = 0; round < ROUNDS; round++) {
      for (const [name, args] of cases) samples.get(name)!.push(wallMs(args));
    }
    const floor = median(samples.get('node -e 0')!);
    console.log(`mesh CLI start-up, ${ROUNDS} interleaved rounds, median wall time per call (Node ${process.version})`);
    for (const [name] of cases) {
      const m = median(samples.get(name)!);
      console.log(`  ${name.padEnd(16)} ${m.toFixed(1).padStart(7)} ms   ${(m / floor).toFixed(2)}× node -e 0`);
    }
    const version = median(samples.get('mesh --version')!);
    const services = median(samples.get('mesh services')!);
    console.log(`targets: --version ≤ 1.5× node -e 0: ${version / floor <= 1.5 ? 'met' : 'MISSED'}; services ≤ 250 ms: ${services <= 250 ? 'met' : 'MISSED'}`);
  } finally {
    for (const d of daemons) await d.stop('SIGTERM');
    dir.cleanup();
  }
}

await main();
