// GET /v1/metrics: the registry daemon's Prometheus exposition, through prom-client. Values are read from the
// catalogue, the DNS front end's and the certificate authority's plain counters at scrape time, so nothing on
// a query path calls prom-client.
import { Counter, Gauge, Registry } from 'prom-client';
import type { ApiContext } from './context.js';

export async function registryMetrics(ctx: ApiContext): Promise<{ contentType: string; text: string }> {
  const registry = new Registry();
  const registers = [registry];
  new Gauge({
    name: 'mesh_registry_instances', help: 'Registered instances, by health.', labelNames: ['health'] as const, registers,
    collect() {
      const by = { passing: 0, warning: 0, critical: 0 };
      for (const inst of ctx.store.list()) by[inst.health]++;
      for (const [health, n] of Object.entries(by)) this.set({ health }, n);
    },
  });
  new Gauge({
    name: 'mesh_registry_watchers', help: 'Open watch streams.', registers,
    collect() { this.set(ctx.hub.watchers); },
  });
  const dns = ctx.dnsCounters;
  if (dns !== undefined) {
    new Counter({
      name: 'mesh_registry_dns_responses_total', help: 'DNS answers sent, by transport and response code (FORMERR for malformed queries).',
      labelNames: ['transport', 'rcode'] as const, registers,
      collect() {
        this.reset();
        for (const transport of ['udp', 'tcp'] as const) {
          for (const [rcode, n] of Object.entries(dns.answers[transport])) this.inc({ transport, rcode }, n);
        }
      },
    });
    new Counter({
      name: 'mesh_registry_dns_dropped_total', help: 'DNS packets that got no answer: shorter than a header, a response, or over the size limit.',
      labelNames: ['reason'] as const, registers,
      collect() { this.reset(); for (const [reason, n] of Object.entries(dns.dropped)) this.inc({ reason }, n); },
    });
    new Counter({
      name: 'mesh_registry_dns_tcp_closed_total', help: 'DNS TCP connections the registry closed: idle, an oversized length prefix, or over the connection limit.',
      labelNames: ['reason'] as const, registers,
      collect() { this.reset(); for (const [reason, n] of Object.entries(dns.tcpClosed)) this.inc({ reason }, n); },
    });
    new Counter({
      name: 'mesh_registry_dns_truncated_total', help: 'UDP DNS answers cut to the client\'s buffer size (TC set).', registers,
      collect() { this.reset(); this.inc(dns.truncated); },
    });
    new Counter({
      name: 'mesh_registry_dns_forwarded_total', help: 'Queries forwarded to --dns-recursor, by result (answered, failed).',
      labelNames: ['result'] as const, registers,
      collect() { this.reset(); for (const [result, n] of Object.entries(dns.forwarded)) this.inc({ result }, n); },
    });
    new Gauge({
      name: 'mesh_registry_dns_tcp_connections', help: 'Open DNS TCP connections.', registers,
      collect() { this.set(dns.tcpOpen); },
    });
  }
  const text = await registry.metrics();
  // The certificate authority keeps its own plain counters (also served alone on /v1/identity/metrics).
  if (ctx.identity === undefined) return { contentType: registry.contentType, text };
  return { contentType: registry.contentType, text: `${text === '' || text.endsWith('\n') ? text : `${text}\n`}${ctx.identity.metricsText()}` };
}
