// The table `mesh demo --no-ui` prints (its --json prints the same DemoSummary).
import type { DemoSummary } from '../../demo/summary.js';
import { fmtMs, fmtRate, fmtRps } from '../../ui/format.js';
import { MAX_IN_FLIGHT as MAX_WAITING } from '../../demo/load.js';
import { plainTable } from './table.js';

export function renderDemoSummary(s: DemoSummary): string {
  let out = `${demoHeadline(s)}\n\n`;
  out += plainTable(['SERVICE', 'REQUESTS', 'OK', 'OK AFTER RETRY', 'FAILED', 'RPS', 'SUCCESS', 'P50', 'P99'], s.services.map((x) => [
    x.service, String(x.requests), String(x.ok), String(x.okAfterRetry), String(x.failed), fmtRps(x.rps), fmtRate(x.successRate), fmtMs(x.p50), fmtMs(x.p99),
  ]));
  const rows = s.services.flatMap((x) => x.endpoints.map((e) => [
    `${x.service}/${e.id}`, e.address, String(e.priority), fmtRps(e.rps), fmtRate(e.successRate), fmtMs(e.p99), String(e.ejections), e.state,
  ]));
  out += `\n${plainTable(['ENDPOINT', 'ADDRESS', 'PRIORITY', 'RPS', 'SUCCESS', 'P99', 'EJECTIONS', 'STATE'], rows)}`;
  return out;
}

/**
 * The sentence above the tables. Its numbers add up to the table's: the REQUESTS column counts what the proxy
 * handled, so requests that never reached it are named, and so are the beats the load generator skipped (it
 * skips rather than queue when 64 requests are still waiting, which happens while the mesh starts up).
 */
export function demoHeadline(s: DemoSummary): string {
  const { sent, ok, failed, skipped } = s.load;
  const handled = s.services.reduce((sum, x) => sum + x.requests, 0);
  const lost = sent - handled;
  const where = lost === 0 ? 'all counted in the table below' : `${handled} counted in the table below, ${lost} never reached the proxy`;
  let line = `mesh demo ran for ${(s.durationMs / 1000).toFixed(1)}s: ${sent} requests sent (${where}); ${ok} answered below 500, ${failed} failed.`;
  if (skipped > 0) line += `\n${skipped} more were skipped, not sent, while ${MAX_WAITING} requests were still waiting for answers (as during start-up).`;
  return line;
}
