// The entry point of a `--workers N` worker process. The primary forks this file instead of re-running the
// whole CLI, so a worker loads only the proxy's modules (not every command's dependencies: the dashboard's
// ink and React, the certificate tooling), which keeps each worker's memory down. The primary passes the
// options it parsed in the environment.
import { runProxy, WORKER_OPTIONS_ENV, type RunProxyOptions } from './cluster.js';

const text = process.env[WORKER_OPTIONS_ENV];
if (text === undefined) {
  process.stderr.write('mesh proxy worker: started without options; it is run by `mesh proxy start --workers N`\n');
  process.exitCode = 2;
} else {
  const opts = JSON.parse(text) as Omit<RunProxyOptions, 'log'>;
  runProxy({ ...opts, log: (line) => { process.stderr.write(`${line}\n`); } }).catch((err: Error & { code?: string }) => {
    process.stderr.write(`mesh: ${err.message}\n`);
    process.exitCode = err.code === 'MESH_ERR_USAGE' || err.code === 'MESH_ERR_INVALID_ARGUMENT' ? 2 : 1;
  });
}
