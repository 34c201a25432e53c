// What `mesh top` does (registered in ../commands/top.ts); `mesh demo` draws the same dashboard with runTop.
import { UsageError } from '../../core/errors.js';
import { DEFAULTS } from '../../core/types.js';
import type { CommandContext } from '../context.js';
import { proxyUrlFlag } from '../proxy-flags.js';

export async function top(ctx: CommandContext, opts: { proxy?: string[] }): Promise<void> {
  const fallback = ctx.io.env.MESH_PROXY ? proxyUrlFlag(ctx.io.env.MESH_PROXY) : DEFAULTS.proxyAdminUrl;
  await runTop({ proxies: opts.proxy ?? [fallback] });
}

export interface TopOptions {
  proxies: string[];
  /** For `mesh demo`: stdin/stdout to draw on (the process's own by default). */
  stdin?: NodeJS.ReadStream;
  stdout?: NodeJS.WriteStream;
  /** Closes the dashboard from outside (the demo's deadline or a signal). */
  signal?: AbortSignal;
}

/** Runs the dashboard until the user quits; resolves when the terminal has been restored. */
export async function runTop(opts: TopOptions): Promise<void> {
  const stdin = opts.stdin ?? process.stdin;
  const stdout = opts.stdout ?? process.stdout;
  if (!stdin.isTTY || !stdout.isTTY) {
    throw new UsageError('mesh top needs an interactive terminal: use `mesh routes` or `curl <admin>/stats` when piping');
  }
  // React and ink are loaded only when the dashboard runs, so every other command starts fast.
  const [{ createElement }, { render }, { subscribeStats }, { TopApp }] = await withoutCiDetection(() => Promise.all([
    import('react'), import('ink'), import('../../metrics/admin-client.js'), import('../../ui/components/Top.js'),
  ]));
  stdout.write('\x1b[?1049h\x1b[H'); // alternate screen: the shell's scrollback is untouched
  const app = render(createElement(TopApp, { proxies: opts.proxies, connect: subscribeStats, slowestTrace: (service, width) => slowestTrace(opts.proxies, service, width) }), { stdin, stdout, exitOnCtrlC: true, patchConsole: false });
  const stop = () => app.unmount();
  process.once('SIGTERM', stop);
  process.once('SIGHUP', stop);
  if (opts.signal?.aborted) stop();
  opts.signal?.addEventListener('abort', stop, { once: true });
  try {
    await app.waitUntilExit();
  } finally {
    process.removeListener('SIGTERM', stop);
    process.removeListener('SIGHUP', stop);
    opts.signal?.removeEventListener('abort', stop);
    stdout.write('\x1b[?1049l\x1b[?25h'); // leave the alternate screen, show the cursor
  }
}

/** Key t: the service's slowest recent trace across the proxies, drawn as `mesh trace <id>` draws it. */
async function slowestTrace(proxies: readonly string[], service: string, width: number): Promise<string> {
  const [{ collectTrace, collectTraceList }, { renderWaterfall }] = await Promise.all([import('../../tracing/collect.js'), import('../render/trace.js')]);
  const { value: [slowest] } = await collectTraceList(proxies, { service, slowest: true, limit: 1 });
  if (slowest === undefined) return `no recent traces of ${service} (tracing on? mesh proxy start --trace-sample <ratio>)`;
  const { value: spans } = await collectTrace(proxies, slowest.traceId);
  return renderWaterfall(slowest.traceId, spans, { color: false, now: Date.now(), barWidth: Math.max(10, Math.min(40, width - 90)) });
}

/**
 * ink decides at import time (is-in-ci) that a CI environment gets only a final frame and no live redraws.
 * `mesh top` has already checked that it owns a terminal, so a dashboard started inside a CI job's terminal
 * (a tmux session, say) must still draw live: hide the CI variables while ink loads, then restore them.
 */
async function withoutCiDetection<T>(load: () => Promise<T>): Promise<T> {
  const saved: Record<string, string> = {};
  for (const key of Object.keys(process.env)) {
    if (key === 'CI' || key === 'CONTINUOUS_INTEGRATION' || key.startsWith('CI_')) {
      saved[key] = process.env[key]!;
      delete process.env[key];
    }
  }
  try {
    return await load();
  } finally {
    Object.assign(process.env, saved);
  }
}

