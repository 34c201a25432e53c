// The flags that describe an instance (shared by `mesh register` and `mesh run`), turned into a validated
// InstanceSpec before anything is sent. (The client those flags reach is in registry-client.ts.)
import { Option, type Command } from 'commander';
import { UsageError, ValidationError } from '../core/errors.js';
import type { InstanceSpec } from '../core/types.js';
import { parseTag, validateInstanceSpec, validatePort, validateServiceName, parseHostPort } from '../core/validate.js';
import { collect, durationFlag, flagParser, intFlag } from './common.js';

export interface InstanceFlags {
  address?: string;
  id?: string;
  weight?: number;
  priority?: number;
  zone?: string;
  tag?: [string, string][];
  tlsPort?: number;
  ttl?: number;
  checkHttp?: string;
  checkTcp?: string;
  interval?: number;
  timeout?: number;
  deregisterAfter?: number;
}

/** Adds every instance flag except --address (whose wording differs between register and run). */
export function addInstanceOptions(cmd: Command): Command {
  return cmd
    .option('--id <id>', 'The instance id, unique within the service (default: <service>-<host>-<port>).')
    .option('--weight <n>', 'The share of traffic relative to the other instances, from 1 to 1000 (default 100).', intFlag('--weight', 1, 1000))
    .option('--priority <n>', 'The failover tier: 0 is primary, 1, 2 … are backups that take the traffic lower tiers lose capacity for (default 0).', intFlag('--priority', 0, 100))
    .option('--zone <zone>', 'The zone (or rack, or region) the instance runs in, for zone-aware balancing.')
    .option('--tag <key=value>', 'A tag such as version=v2; repeat the flag for more tags.', collect(flagParser('--tag', parseTag)))
    .option('--tls-port <port>', 'The port of the instance\'s mesh mTLS listener on the same host.', flagParser('--tls-port', (v) => validatePort(v, 'tls-port')))
    .addOption(new Option('--ttl <duration>', 'A TTL check: the instance must heartbeat at least this often (e.g. 10s) or it turns critical.').argParser(durationFlag('--ttl')))
    .option('--check-http <url>', 'An HTTP check: the registry GETs this URL every interval; 2xx is passing, 429 warning, anything else critical.')
    .option('--check-tcp <host:port>', 'A TCP check: the registry connects to this address every interval.', flagParser('--check-tcp', (v) => { parseHostPort(v, 'check-tcp'); return v; }))
    .option('--interval <duration>', 'How often an HTTP or TCP check runs (default 10s).', durationFlag('--interval'))
    .option('--timeout <duration>', 'How long an HTTP or TCP check may take before it counts as failed (default 2s).', durationFlag('--timeout'))
    .option('--deregister-after <duration>', 'Remove the instance once it has been critical this long (default 1m).', durationFlag('--deregister-after'));
}

/** Validates the flags into the spec the registry will store; throws a usage error (exit 2) on bad input. */
export function specFromFlags(service: string, address: string, f: InstanceFlags): InstanceSpec {
  validateServiceName(service);
  const kinds = [f.ttl !== undefined && '--ttl', f.checkHttp !== undefined && '--check-http', f.checkTcp !== undefined && '--check-tcp'].filter(Boolean);
  if (kinds.length > 1) throw new UsageError(`${kinds.join(' and ')} cannot be combined: choose one of --ttl, --check-http or --check-tcp`);
  if ((f.interval !== undefined || f.timeout !== undefined) && f.checkHttp === undefined && f.checkTcp === undefined) {
    throw new UsageError('--interval and --timeout apply only to --check-http or --check-tcp');
  }
  const check: Record<string, unknown> = {};
  if (f.ttl !== undefined) check.ttlMs = f.ttl;
  if (f.checkHttp !== undefined) check.http = f.checkHttp;
  if (f.checkTcp !== undefined) check.tcp = f.checkTcp;
  if (f.interval !== undefined) check.intervalMs = f.interval;
  if (f.timeout !== undefined) check.timeoutMs = f.timeout;
  if (f.deregisterAfter !== undefined) check.deregisterAfterMs = f.deregisterAfter;
  const body: Record<string, unknown> = { service, address };
  if (f.id !== undefined) body.id = f.id;
  if (f.weight !== undefined) body.weight = f.weight;
  if (f.priority !== undefined) body.priority = f.priority;
  if (f.zone !== undefined) body.zone = f.zone;
  if (f.tag !== undefined) body.tags = Object.fromEntries(f.tag);
  if (f.tlsPort !== undefined) body.tlsPort = f.tlsPort;
  if (Object.keys(check).length > 0) body.check = check;
  try {
    return validateInstanceSpec(body);
  } catch (err) {
    // The API's field names (check.ttlMs) mean nothing on a command line: name the flag instead.
    if (err instanceof ValidationError && err.field === 'check') {
      const msg = err.message.replace(/check\.(\w+)Ms\b/g, (_m, k: string) => `--${k.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)}`);
      throw new UsageError(msg.includes('check URL') ? `--check-http: ${msg}` : msg);
    }
    throw err;
  }
}
