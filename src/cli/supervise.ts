// `mesh run`'s process supervision: start the child with PORT set, register it once it is ready, keep the
// registration alive while it lives, forward SIGINT/SIGTERM, and deregister when it exits — however it exits.
import { spawn } from 'node:child_process';
import { request as httpGet } from 'node:http';
import { request as httpsGet } from 'node:https';
import { connect, createServer } from 'node:net';
import { constants } from 'node:os';
import { MeshError } from '../core/errors.js';
import type { InstanceSpec } from '../core/types.js';
import { parseHostPort } from '../core/validate.js';
import type { RegistryClient } from '../registry/client.js';
import { KeepAlive } from '../registry/keep-alive.js';

export interface SuperviseOptions {
  client: RegistryClient;
  spec: InstanceSpec;
  command: string;
  args: string[];
  env: NodeJS.ProcessEnv;
  port: number;
  log: (line: string) => void;
  /** How often readiness is probed before registration (ms). */
  pollMs?: number;
}

/** Runs the child to completion; resolves with the exit code mesh should exit with (128+n for signal n). */
export async function superviseChild(opts: SuperviseOptions): Promise<number> {
  const { spec, log } = opts;
  const child = spawn(opts.command, opts.args, { stdio: 'inherit', env: { ...opts.env, PORT: String(opts.port) } });
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve, reject) => {
    child.once('error', (err: NodeJS.ErrnoException) => {
      reject(new MeshError('MESH_ERR_CHILD_FAILED', `cannot start "${opts.command}": ${err.code === 'ENOENT' ? 'command not found' : err.message}`, { cause: err }));
    });
    child.once('exit', (code, signal) => resolve({ code, signal }));
  });
  let done = false;
  void exited.then(() => { done = true; }, () => { done = true; });

  const keeper = new KeepAlive(opts.client, spec, { log });
  let registered = false;
  const onSignal = (signal: NodeJS.Signals) => {
    log(`mesh run: ${signal}: deregistering ${spec.service}/${spec.id} and passing ${signal} to the child`);
    if (registered) void keeper.stop().catch(() => {});
    child.kill(signal);
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  try {
    const ready = await waitUntilReady(spec, () => done, opts.pollMs ?? 100);
    if (ready && !done) {
      try {
        await keeper.start();
        registered = true;
        log(`mesh run: registered ${spec.service}/${spec.id} at ${spec.address} (pid ${child.pid})`);
      } catch (err) {
        child.kill('SIGTERM');
        await exited.catch(() => {});
        throw err;
      }
    }
    const { code, signal } = await exited;
    if (registered) {
      await keeper.stop().catch((err: Error) => log(`mesh run: could not deregister ${spec.service}/${spec.id}: ${err.message}`));
      log(`mesh run: child exited (${signal ?? `code ${code}`}); deregistered ${spec.service}/${spec.id}`);
    }
    return code ?? 128 + (signal ? constants.signals[signal] ?? 1 : 1);
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  }
}

/** Polls until the instance answers: its HTTP check passes, its TCP check connects, or its address accepts. */
async function waitUntilReady(spec: InstanceSpec, gone: () => boolean, pollMs: number): Promise<boolean> {
  const probe = spec.check?.http !== undefined ? () => httpOk(spec.check!.http!) : () => tcpOpen(spec.check?.tcp ?? spec.address);
  while (!gone()) {
    if (await probe()) return true;
    await new Promise((r) => setTimeout(r, pollMs));
  }
  return false;
}

function tcpOpen(address: string): Promise<boolean> {
  const { host, port } = parseHostPort(address);
  return new Promise((resolve) => {
    const s = connect({ host, port, timeout: 1_000 });
    s.once('connect', () => { s.destroy(); resolve(true); });
    s.once('timeout', () => { s.destroy(); resolve(false); });
    s.once('error', () => resolve(false));
  });
}

function httpOk(url: string): Promise<boolean> {
  return new Promise((resolve) => {
    const get = url.startsWith('https:') ? httpsGet : httpGet;
    const req = get(url, { method: 'GET', timeout: 1_000 }, (res) => {
      res.resume();
      resolve((res.statusCode ?? 500) >= 200 && (res.statusCode ?? 500) < 300);
    });
    req.once('timeout', () => { req.destroy(); resolve(false); });
    req.once('error', () => resolve(false));
    req.end();
  });
}

/** A port nothing listens on right now (the child binds it a moment later; a small race we accept). */
export function pickFreePort(host = '127.0.0.1'): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once('error', reject);
    srv.listen(0, host, () => {
      const { port } = srv.address() as { port: number };
      srv.close(() => resolve(port));
    });
  });
}
