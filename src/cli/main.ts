// Entry point: the only place that calls process.exit. Exit codes: 0 success, 1 failure, 2 usage error.

// chalk 5 ignores NO_COLOR on a TTY; FORCE_COLOR=0 set before chalk (and ink) load turns colour off.
if (process.env.NO_COLOR !== undefined && process.env.NO_COLOR !== '') process.env.FORCE_COLOR = '0';
else if (process.stdout.isTTY !== true && process.env.FORCE_COLOR === undefined) process.env.FORCE_COLOR = '0';

const { run } = await import('./run.js');
const code = await run(process.argv.slice(2));
// Let stdout drain before exiting so piped output is never cut.
process.exitCode = code;
if (process.stdout.writableNeedDrain) process.stdout.once('drain', () => process.exit(code));
else process.exit(code);
