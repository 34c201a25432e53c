// Entry point: the only place that calls process.exit. Exit codes: 0 success, 1 failure, 2 usage error.

// chalk 5 ignores NO_COLOR on a TTY; FORCE_COLOR=0 set before chalk (and ink) load turns colour off.
if (process.env.NO_COLOR !== undefined && process.env.NO_COLOR !== '') process.env.FORCE_COLOR = '0';
else if (process.stdout.isTTY !== true && process.env.FORCE_COLOR === undefined) process.env.FORCE_COLOR = '0';

const argv = process.argv.slice(2);
let code: number;
// `mesh --version` alone answers before the command tree is built: scripts call it to probe for mesh.
if (argv.length === 1 && (argv[0] === '--version' || argv[0] === '-V')) {
  const { meshVersion } = await import('./version.js');
  process.stdout.write(`${meshVersion()}\n`);
  code = 0;
} else {
  const { run } = await import('./run.js');
  code = await run(argv);
}
// Let stdout drain before exiting so piped output is never cut.
process.exitCode = code;
if (process.stdout.writableNeedDrain) process.stdout.once('drain', () => process.exit(code));
else process.exit(code);
