// `mesh proxy start`: the data plane in the foreground until SIGTERM/SIGINT (SIGHUP reloads --config).
import { Option, type Command } from 'commander';
import { UsageError } from '../../core/errors.js';
import { DEFAULTS } from '../../core/types.js';
import { parseHostPort, parseListenAddress } from '../../core/validate.js';
import type { ProxyStartFlags } from '../actions/proxy.js';
import { addRegistryClientOptions, durationFlag, flagParser, intFlag } from '../common.js';
import type { CommandContext } from '../context.js';

/** Validates a host:port flag up front (exit 2, one line) and keeps the text as given; listen flags allow port 0. */
const addressFlag = (flag: string) => flagParser(flag, (value: string) => {
  (flag === '--app' ? parseHostPort : parseListenAddress)(value, flag.replace(/^--/, ''));
  return value;
});

/** A ratio from 0 to 1 (--trace-sample). */
function ratioFlag(flag: string): (value: string) => number {
  return (value: string) => {
    const n = Number(value);
    if (value.trim() === '' || !Number.isFinite(n) || n < 0 || n > 1) throw new UsageError(`${flag}: invalid value "${value}": use a number from 0 to 1, e.g. 0.01 for 1% of new traces`);
    return n;
  };
}

export function registerProxyCommand(program: Command, ctx: CommandContext): void {
  const proxy = program
    .command('proxy')
    .description('Run the forwarding proxy: it routes requests for http://<service>/ to healthy instances from the registry.')
    .addHelpText('after', '\nExample:\n  mesh proxy start --registry http://127.0.0.1:8500 && curl -x http://127.0.0.1:15001 http://orders/\n');

  addRegistryClientOptions(
    proxy
      .command('start')
      .description('Run the proxy in the foreground until SIGTERM or SIGINT. Clients reach a service by sending requests through it as an HTTP proxy (HTTP_PROXY=http://127.0.0.1:15001) or with "Host: <service>" or "Host: <service>.mesh". SIGHUP reloads the config file; so does saving it.')
      .addOption(new Option('--listen <host:port>', 'The address clients send requests to; keep it on loopback unless every client on the network may use it.').env('MESH_PROXY_LISTEN').default(DEFAULTS.proxyListen).argParser(addressFlag('--listen')))
      .addOption(new Option('--admin <host:port>', 'The admin server\'s address: GET /routes, /healthz, /ready, /explain, /metrics and /stats.').env('MESH_PROXY_ADMIN').default(DEFAULTS.proxyAdmin).argParser(addressFlag('--admin')))
      .addOption(new Option('--workers <n>', 'How many processes share the listener (node:cluster), from 1 to 64; the admin server runs in worker 1.').env('MESH_PROXY_WORKERS').default(1).argParser(intFlag('--workers', 1, 64)))
      .addOption(new Option('--config <file>', 'A JSON or YAML file with per-service settings and route rules (see PROXY in man mesh); reloaded when it changes, and an invalid version is refused with the old one kept.').env('MESH_PROXY_CONFIG'))
      .addOption(new Option('--drain-timeout <duration>', 'How long SIGTERM waits for in-flight requests to finish before closing their connections.').default(10_000, '10s').argParser(durationFlag('--drain-timeout')))
      .option('--no-metrics', 'Do not count requests (GET /metrics and /stats then answer 404).')
      .addOption(new Option('--access-log <file>', 'Write one JSON line per request to this file (appended), or to standard output with -; off by default.').env('MESH_PROXY_ACCESS_LOG'))
      .addOption(new Option('--trace-endpoint <url>', 'Export spans over OTLP/HTTP (protobuf) to this collector URL, e.g. http://127.0.0.1:4318 (/v1/traces is added to a URL with no path); OTEL_EXPORTER_OTLP_TRACES_ENDPOINT and OTEL_EXPORTER_OTLP_ENDPOINT are read when it is not given. Turns tracing on.'))
      .addOption(new Option('--trace-sample <ratio>', 'The share of new traces to record, from 0 to 1; a request that carries a traceparent follows its sampled flag. Turns tracing on (spans kept for `mesh trace`) even without --trace-endpoint. Default 1 when tracing is on.').argParser(ratioFlag('--trace-sample')))
      .addOption(new Option('--trace-batch-size <n>', 'Spans per export request (OTEL_BSP_MAX_EXPORT_BATCH_SIZE).').argParser(intFlag('--trace-batch-size', 1, 65_536)))
      .addOption(new Option('--trace-batch-delay <duration>', 'The longest a span waits before its batch is sent (OTEL_BSP_SCHEDULE_DELAY).').argParser(durationFlag('--trace-batch-delay')))
      .addOption(new Option('--trace-queue-size <n>', 'Spans that may wait for export; past it new spans are dropped and counted in mesh_trace_spans_dropped_total (OTEL_BSP_MAX_QUEUE_SIZE).').argParser(intFlag('--trace-queue-size', 1, 1_048_576))),
  )
    .addOption(new Option('--inbound <host:port>', 'Run the inbound mTLS sidecar on this address in front of --app (needs --service, --cert, --key, --ca). With --inbound the outbound listener runs only when --listen is given.').env('MESH_PROXY_INBOUND').argParser(addressFlag('--inbound')))
    .addOption(new Option('--app <host:port>', 'The local app the inbound sidecar forwards to, e.g. 127.0.0.1:7001.').argParser(addressFlag('--app')))
    .addOption(new Option('--service <name>', 'The service this proxy speaks for; its certificate must carry that service\'s SPIFFE ID (.../service/<name>).'))
    .addOption(new Option('--cert <file>', 'This service\'s certificate (from `mesh certs gen`); turns on mTLS. Rotated files are picked up without a restart.').env('MESH_CERT'))
    .addOption(new Option('--key <file>', 'The private key of --cert.').env('MESH_KEY'))
    .addOption(new Option('--identity <source>', 'Where the mTLS identity comes from instead of --cert/--key: "registry" generates a key in memory, gets a certificate from the registry (the first with the bootstrap token in MESH_IDENTITY_TOKEN) and renews it before it expires; --ca then only names the CA of an https registry.').choices(['registry']).env('MESH_IDENTITY'))
    .addOption(new Option('--policy <file>', 'Authorization policy (YAML or JSON) the inbound sidecar enforces; reloaded when it changes. Without one every authenticated caller is allowed.').env('MESH_POLICY'))
    .option('--permissive', 'Accept plaintext callers on --inbound too, as unauthenticated (for migrating a mesh to mTLS); a TLS caller whose CA-signed certificate is no mesh identity is then unauthenticated too instead of refused.')
    .addOption(new Option('--inbound-admin <host:port>', 'Serve the inbound sidecar\'s Prometheus metrics (GET /metrics: requests by caller identity and decision, refused handshakes by reason) on this address.').argParser(addressFlag('--inbound-admin')))
    .addHelpText('after', `
Examples:
  mesh proxy start
  mesh proxy start --listen 127.0.0.1:15001 --registry http://127.0.0.1:8500 --config mesh.yaml \\
    --workers 2
  curl -x http://127.0.0.1:15001 http://orders/api    # as an HTTP proxy (curl reads http_proxy too)
  curl -H 'Host: orders' http://127.0.0.1:15001/api
With mTLS (see SECURITY in man mesh):
  mesh proxy start --inbound 127.0.0.1:15443 --app 127.0.0.1:7001 --service orders \\
    --cert certs/orders.pem --key certs/orders-key.pem --ca mesh-ca/ca.pem --policy policy.yaml
  mesh proxy start --cert certs/web.pem --key certs/web-key.pem --ca mesh-ca/ca.pem
With certificates from the registry (--identity registry):
  export MESH_IDENTITY_TOKEN=$(mesh token create --service web)
  mesh proxy start --inbound 127.0.0.1:15443 --app 127.0.0.1:7001 --service web --identity registry
`)
    .action(async (opts: ProxyStartFlags, cmd: Command) => (await import('../actions/proxy.js')).proxyStart(ctx, opts, cmd));
}
