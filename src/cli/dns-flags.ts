// The `mesh registry start` flags of the DNS interface and of service definition files, validated into the
// daemon's options (usage errors, exit 2, before anything listens).
import { Option, type Command } from 'commander';
import { UsageError, ValidationError } from '../core/errors.js';
import { parseHostPort, parseListenAddress } from '../core/validate.js';
import type { RegistryDaemonOptions } from '../registry/daemon.js';
import { normaliseDomain } from '../core/dns-name.js';
import { durationFlag, flagParser, intFlag } from './common.js';

export interface DnsFlags {
  dns?: string;
  dnsDomain: string;
  dnsMaxAnswers: number;
  dnsTtl: number;
  dnsRecursor?: string;
  dnsOnlyPassing?: boolean;
  servicesDir?: string;
}

export function addDnsOptions(cmd: Command): Command {
  return cmd
    .addOption(new Option('--dns <host:port>', 'Also answer DNS queries (UDP and TCP) on this address, e.g. 127.0.0.1:8600 (a bare port means loopback); off unless given.').env('MESH_DNS').argParser(flagParser('--dns', dnsAddress)))
    .addOption(new Option('--dns-domain <domain>', 'The domain the DNS names live under: <service>.service.<domain>.').env('MESH_DNS_DOMAIN').default('mesh').argParser(flagParser('--dns-domain', (v) => {
      try { return normaliseDomain(v); } catch (err) { throw new ValidationError('dns-domain', (err as Error).message); }
    })))
    .addOption(new Option('--dns-max-answers <n>', 'At most this many A/AAAA records per answer, from 1 to 1000 (default 3).').default(3, '3').argParser(intFlag('--dns-max-answers', 1, 1000)))
    .addOption(new Option('--dns-ttl <duration>', 'The TTL of DNS answers, in whole seconds, up to 1d (default 0s: clients ask again every time).').default(0, '0s').argParser(durationFlag('--dns-ttl')))
    .addOption(new Option('--dns-recursor <host:port>', 'Forward queries for names outside the domain to this DNS server instead of refusing them.').argParser(flagParser('--dns-recursor', (v) => { parseHostPort(v, 'dns-recursor'); return v; })))
    .option('--dns-only-passing', 'Leave warning instances out of DNS answers (by default warning instances take traffic, as in the proxy).')
    .addOption(new Option('--services-dir <dir>', 'Register the instances defined in the *.yaml, *.yml and *.json files of this directory; reloaded when a file changes and on SIGHUP.').env('MESH_SERVICES_DIR'));
}

/** The daemon's DNS and definition-file options from the flags. Throws UsageError on bad input. */
export function dnsOptionsFromFlags(f: DnsFlags): Pick<RegistryDaemonOptions, 'dns' | 'servicesDir'> {
  const dnsOnly = (['dnsRecursor', 'dnsOnlyPassing'] as const).filter((k) => f[k] !== undefined);
  if (f.dns === undefined && dnsOnly.length > 0) throw new UsageError(`--${dnsOnly[0]!.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)} needs --dns <host:port>`);
  if (f.dnsTtl % 1000 !== 0 || f.dnsTtl > 86_400_000) throw new UsageError(`--dns-ttl: use whole seconds from 0s to 1d, e.g. 5s`);
  const out: Pick<RegistryDaemonOptions, 'dns' | 'servicesDir'> = {};
  if (f.servicesDir !== undefined) out.servicesDir = f.servicesDir;
  if (f.dns !== undefined) {
    out.dns = {
      listen: parseListenAddress(dnsAddress(f.dns), 'dns'),
      domain: f.dnsDomain,
      maxAnswers: f.dnsMaxAnswers,
      ttlSeconds: f.dnsTtl / 1000,
      onlyPassing: f.dnsOnlyPassing === true,
      ...(f.dnsRecursor !== undefined ? { recursor: parseHostPort(f.dnsRecursor, 'dns-recursor') } : {}),
    };
  }
  return out;
}

/** `8600` or `:8600` is loopback: the DNS interface is reachable from elsewhere only when asked for explicitly. */
function dnsAddress(v: string): string {
  const address = /^:?\d+$/.test(v) ? `127.0.0.1:${v.replace(/^:/, '')}` : v;
  parseListenAddress(address, 'dns');
  return address;
}
