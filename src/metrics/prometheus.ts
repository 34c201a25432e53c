// The Prometheus exposition of a ProxyMetrics, through prom-client 15. Every metric reads the recorders' plain
// counters in a collect() callback at scrape time, so requests never call prom-client. Node's default
// metrics are left out on purpose: some of them fail `promtool check metrics` (see FIELD-NOTES).
import { Counter, Gauge, Registry, type Metric } from 'prom-client';
import { counterView, type EndpointCounters, type ServiceCounters } from './merged-view.js';
import { CODE_CLASS_LABELS, DURATION_BUCKETS_S, type ProxyMetrics } from './recorder.js';
import { Fate, FATE_NAMES } from './types.js';

/** Metric names in snake_case as Prometheus expects (used in the man page and tests). */
export const FATE_LABELS: Record<string, string> = {
  ok: 'ok', okAfterRetry: 'ok_after_retry', failed: 'failed', retryBudgetExhausted: 'retry_budget_exhausted',
  timeout: 'timeout', noHealthyEndpoint: 'no_healthy_endpoint', circuitOpen: 'circuit_open', denied: 'denied', faultInjected: 'fault_injected',
};

type Extra = (registry: Registry) => void;

/** A registry whose metrics are read from `metrics` on every scrape. `extra` may add more (e.g. the access log's). */
export function prometheusRegistry(metrics: ProxyMetrics, extra?: Extra): Registry {
  const registry = new Registry();
  const registers = [registry];
  const eachEndpoint = (): EndpointCounters[] => counterView(metrics).endpoints;
  const eachService = () => counterView(metrics).services;

  new Counter({
    name: 'mesh_requests_total', help: 'Requests sent to upstream endpoints, by status class (error = no response).',
    labelNames: ['service', 'endpoint', 'code_class'] as const, registers,
    collect() {
      this.reset();
      for (const ep of eachEndpoint()) {
        CODE_CLASS_LABELS.forEach((cls, i) => {
          if (ep.byClass[i]! > 0) this.inc({ service: ep.service, endpoint: ep.id, code_class: cls }, ep.byClass[i]!);
        });
      }
    },
  });
  const duration = {
    name: 'mesh_request_duration_seconds', help: 'Time from sending a request upstream to the end of its response.',
    type: 'histogram', aggregator: 'sum',
    collect() {},
    reset() {},
    async get() {
      const values: { labels: Record<string, string | number>; value: number; metricName: string }[] = [];
      for (const ep of eachEndpoint()) {
        const labels = { service: ep.service, endpoint: ep.id };
        let cumulative = 0;
        for (let b = 0; b < ep.buckets.length; b++) {
          cumulative += ep.buckets[b]!;
          const le = b < DURATION_BUCKETS_S.length ? DURATION_BUCKETS_S[b]! : '+Inf';
          values.push({ labels: { ...labels, le }, value: cumulative, metricName: 'mesh_request_duration_seconds_bucket' });
        }
        values.push({ labels, value: ep.durationSumS, metricName: 'mesh_request_duration_seconds_sum' });
        values.push({ labels, value: cumulative, metricName: 'mesh_request_duration_seconds_count' });
      }
      return { name: duration.name, help: duration.help, type: 'histogram', aggregator: 'sum', values };
    },
  };
  registry.registerMetric(duration as unknown as Metric);
  new Gauge({
    name: 'mesh_requests_in_flight', help: 'Requests currently in flight to each endpoint.',
    labelNames: ['service', 'endpoint'] as const, registers,
    collect() {
      this.reset();
      for (const ep of eachEndpoint()) this.set({ service: ep.service, endpoint: ep.id }, ep.inFlight);
    },
  });
  endpointCounter(registry, 'mesh_request_bytes_total', 'Request body bytes sent to each endpoint.', (ep) => ep.bytesOut, eachEndpoint);
  endpointCounter(registry, 'mesh_response_bytes_total', 'Response body bytes received from each endpoint.', (ep) => ep.bytesIn, eachEndpoint);
  endpointCounter(registry, 'mesh_ejections_total', 'Times outlier detection ejected each endpoint.', (ep) => ep.ejections, eachEndpoint);
  // The state as a 0/1 gauge per endpoint (alert on it, or sum it per service), and the transitions as a counter,
  // as Envoy pairs ejections_active with ejections_total.
  new Gauge({
    name: 'mesh_endpoint_unreachable', help: 'Whether connects to each endpoint fail (1): it takes no traffic until a background probe connects.',
    labelNames: ['service', 'endpoint'] as const, registers,
    collect() {
      this.reset();
      for (const ep of eachEndpoint()) this.set({ service: ep.service, endpoint: ep.id }, ep.unreachableSince === 0 ? 0 : 1);
    },
  });
  endpointCounter(registry, 'mesh_unreachable_total', 'Times each endpoint was found unreachable (a connect failed) and taken out of service.', (ep) => ep.unreachableMarks, eachEndpoint);
  serviceCounter(registry, 'mesh_retries_total', 'Retries sent, per service.', (svc) => svc.retries, eachService);
  serviceCounter(registry, 'mesh_policy_denials_total', 'Requests refused by the authorization policy, per service.', (svc) => svc.policyDenials, eachService);
  new Counter({
    name: 'mesh_request_headers_dropped_total',
    help: 'Request headers the proxy dropped instead of forwarding, per service and reason (underscore: a name with "_", see allowUnderscoresInHeaders).',
    labelNames: ['service', 'reason'] as const, registers,
    collect() {
      this.reset();
      for (const svc of eachService()) this.inc({ service: svc.name, reason: 'underscore' }, svc.underscoreHeaders);
    },
  });
  new Counter({
    name: 'mesh_tls_handshake_failures_total', help: 'Failed TLS handshakes: outbound per endpoint, inbound on the mTLS listener.',
    labelNames: ['direction', 'service', 'endpoint'] as const, registers,
    collect() {
      this.reset();
      this.inc({ direction: 'inbound', service: '', endpoint: '' }, counterView(metrics).inboundTlsFailures);
      for (const ep of eachEndpoint()) this.inc({ direction: 'outbound', service: ep.service, endpoint: ep.id }, ep.tlsFailures);
    },
  });
  new Counter({
    name: 'mesh_request_fates_total', help: 'Client requests by how they ended (ok, ok_after_retry, timeout, ...).',
    labelNames: ['service', 'fate'] as const, registers,
    collect() {
      this.reset();
      for (const svc of eachService()) {
        FATE_NAMES.forEach((name, i) => this.inc({ service: svc.name, fate: FATE_LABELS[name]! }, svc.fates[i]!));
      }
    },
  });
  serviceCounter(registry, 'mesh_faults_injected_total', 'Client requests answered by an injected fault (mesh fault inject), per service; also the fault_injected fate.',
    (svc) => svc.fates[Fate.faultInjected] ?? 0, eachService);
  // Delays are their own counter rather than a `kind` label on mesh_faults_injected_total: that one counts the
  // requests a fault answered (it equals the fault_injected fate, and `sum(mesh_faults_injected_total)` is read
  // as "requests the fault failed"), while a delayed request goes on to its own outcome. Envoy's fault filter
  // keeps the two apart the same way (delays_injected, aborts_injected).
  serviceCounter(registry, 'mesh_fault_delays_injected_total', 'Client requests held by an injected delay fault (mesh fault inject --delay), per service; counted when the delay starts.',
    (svc) => svc.faultDelays, eachService);
  new Gauge({
    name: 'mesh_service_requests_in_flight', help: 'Client requests in flight, per service.',
    labelNames: ['service'] as const, registers,
    collect() {
      this.reset();
      for (const svc of eachService()) this.set({ service: svc.name }, svc.inFlight);
    },
  });
  extra?.(registry);
  return registry;
}

/** A counter read from plain counters at scrape time: one series per item `each` yields. */
function scrapedCounter<T>(
  registry: Registry, name: string, help: string, labelNames: readonly string[],
  labels: (item: T) => Record<string, string>, read: (item: T) => number, each: () => Iterable<T>,
): void {
  new Counter({
    name, help, labelNames, registers: [registry],
    collect() {
      this.reset();
      for (const item of each()) this.inc(labels(item), read(item));
    },
  });
}

function endpointCounter(registry: Registry, name: string, help: string, read: (ep: EndpointCounters) => number, eachEndpoint: () => Iterable<EndpointCounters>): void {
  scrapedCounter(registry, name, help, ['service', 'endpoint'], (ep) => ({ service: ep.service, endpoint: ep.id }), read, eachEndpoint);
}

function serviceCounter(registry: Registry, name: string, help: string, read: (svc: ServiceCounters) => number, eachService: () => Iterable<ServiceCounters>): void {
  scrapedCounter(registry, name, help, ['service'], (svc) => ({ service: svc.name }), read, eachService);
}

export const PROMETHEUS_CONTENT_TYPE = Registry.PROMETHEUS_CONTENT_TYPE;
