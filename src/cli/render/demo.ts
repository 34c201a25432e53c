// The table `mesh demo --no-ui` prints (its --json prints the same DemoSummary).
import type { DemoSummary } from '../../demo/summary.js';
import { fmtMs, fmtRate, fmtRps } from '../../ui/format.js';
import { plainTable } from './table.js';

export function renderDemoSummary(s: DemoSummary): string {
  let out = `mesh demo ran for ${(s.durationMs / 1000).toFixed(1)}s: ${s.load.sent} requests sent, ${s.load.ok} answered below 500, ${s.load.failed} failed\n\n`;
  out += plainTable(['SERVICE', 'REQUESTS', 'OK', 'OK AFTER RETRY', 'FAILED', 'RPS', 'SUCCESS', 'P50', 'P99'], s.services.map((x) => [
    x.service, String(x.requests), String(x.ok), String(x.okAfterRetry), String(x.failed), fmtRps(x.rps), fmtRate(x.successRate), fmtMs(x.p50), fmtMs(x.p99),
  ]));
  const rows = s.services.flatMap((x) => x.endpoints.map((e) => [
    `${x.service}/${e.id}`, e.address, String(e.priority), fmtRps(e.rps), fmtRate(e.successRate), fmtMs(e.p99), String(e.ejections), e.state,
  ]));
  out += `\n${plainTable(['ENDPOINT', 'ADDRESS', 'PRIORITY', 'RPS', 'SUCCESS', 'P99', 'EJECTIONS', 'STATE'], rows)}`;
  return out;
}
