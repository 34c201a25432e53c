// What `mesh demo` does once its flags are parsed (registered in ../commands/demo.ts).
import { UsageError } from '../../core/errors.js';
import { startDemo } from '../../demo/run.js';
import { collectSummary } from '../../demo/summary.js';
import type { CommandContext } from '../context.js';
import { renderDemoSummary } from '../render/demo.js';
import { renderJson } from '../render/routes.js';
import { runTop } from './top.js';

export interface DemoFlags { ui: boolean; duration?: number; rps: number; json?: boolean }

export async function demo(ctx: CommandContext, opts: DemoFlags): Promise<void> {
  if (opts.ui && (!process.stdin.isTTY || !process.stdout.isTTY)) {
    throw new UsageError('mesh demo draws a dashboard and needs an interactive terminal: use --no-ui for a headless run with a summary');
  }
  const durationMs = opts.duration ?? (opts.ui ? 30 * 60_000 : 10_000);
  const log = (line: string) => ctx.io.err(`mesh demo: ${line}\n`);
  const running = await startDemo({ rps: opts.rps, maxRequests: Math.ceil((opts.rps * 3 * durationMs) / 1000) + 100, log });
  // The registry's central config drives the demo's proxy too: faults and canaries from a second terminal.
  log(`from a second terminal: mesh fault inject orders --abort 503 --percent 20 --for 30s --registry ${running.registryUrl}  (the fault_injected fate appears; it ends by itself)`);
  const started = Date.now();
  const stop = new AbortController();
  const timer = setTimeout(() => stop.abort(), durationMs);
  const onSignal = () => stop.abort();
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  try {
    if (opts.ui) {
      await runTop({ proxies: [running.adminUrl], signal: stop.signal });
    } else {
      log(`running for ${(durationMs / 1000).toFixed(0)}s (Ctrl-C ends it early); dashboard: mesh top --proxy ${running.adminUrl}`);
      await new Promise<void>((r) => stop.signal.addEventListener('abort', () => r(), { once: true }));
      // Counted with nothing in flight, so the headline's totals and the proxy's table add up.
      await running.stopLoad();
      const summary = await collectSummary({ registry: running.registryUrl, proxy: running.proxyUrl, admin: running.adminUrl }, Date.now() - started, running.load);
      ctx.io.out(opts.json ? renderJson(summary) : renderDemoSummary(summary));
    }
  } finally {
    clearTimeout(timer);
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
    log('stopping…');
    await running.stop();
    log('stopped; nothing left running, temporary files removed');
  }
}
