// DNS test helpers: a registry daemon with --dns on an ephemeral loopback port, and real `dig` (Debian dnsutils)
// with its output parsed into status, flags and records.
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { delimiter, join } from 'node:path';
import { startRegistry, type TestRegistry } from './registry.js';

export function findTool(name: string): string | undefined {
  for (const dir of [...(process.env.PATH ?? '').split(delimiter), '/usr/bin', '/usr/sbin', '/usr/local/bin']) {
    const p = join(dir, name);
    if (dir && existsSync(p)) return p;
  }
  return undefined;
}

export const DIG_SKIP = findTool('dig') === undefined
  ? 'dig is not installed (apt-get install dnsutils); the DNS tests use it as the client'
  : false;

export interface DnsRegistry extends TestRegistry { dnsPort: number }

type After = { after(fn: () => Promise<void> | void): void };

/** `mesh registry start --dns 127.0.0.1:0 …extra`; resolves with the DNS port the daemon printed. */
export async function startDnsRegistry(t: After, extra: string[] = []): Promise<DnsRegistry> {
  const reg = await startRegistry(t, { args: ['--dns', '127.0.0.1:0', ...extra] });
  const m = await reg.daemon.waitFor(/DNS on 127\.0\.0\.1:(\d+)/);
  return { ...reg, dnsPort: Number(m[1]) };
}

/** Port of a daemon started some other way (etcd), from its DNS log line. */
export async function dnsPortOf(reg: TestRegistry): Promise<number> {
  return Number((await reg.daemon.waitFor(/DNS on 127\.0\.0\.1:(\d+)/))[1]);
}

export interface DnsRecord { name: string; ttl: number; type: string; data: string }

export interface DigResult {
  status: string;
  flags: string[];
  answers: DnsRecord[];
  authority: DnsRecord[];
  additional: DnsRecord[];
  raw: string;
}

/** Runs `dig @127.0.0.1 -p port …args` and parses its sections. */
export function dig(port: number, args: string[]): Promise<DigResult> {
  return new Promise((resolve, reject) => {
    execFile('dig', ['@127.0.0.1', '-p', String(port), '+time=5', '+tries=3', '+nocookie', ...args], { timeout: 30_000 }, (err, stdout) => {
      if (err && !stdout) { reject(err); return; }
      resolve(parseDig(stdout));
    });
  });
}

export function parseDig(out: string): DigResult {
  const result: DigResult = { status: '', flags: [], answers: [], authority: [], additional: [], raw: out };
  let section: DnsRecord[] | undefined;
  for (const line of out.split('\n')) {
    const status = /status: (\w+)/.exec(line);
    if (status) result.status = status[1]!;
    const flags = /^;; flags: ([^;]*);/.exec(line);
    if (flags) result.flags = flags[1]!.trim().split(/\s+/);
    if (line.startsWith(';; ANSWER SECTION')) section = result.answers;
    else if (line.startsWith(';; AUTHORITY SECTION')) section = result.authority;
    else if (line.startsWith(';; ADDITIONAL SECTION')) section = result.additional;
    else if (line.trim() === '') section = undefined;
    else if (section && !line.startsWith(';')) {
      const [name, ttl, , type, ...data] = line.split(/\s+/);
      section.push({ name: name!, ttl: Number(ttl), type: type!, data: data.join(' ') });
    }
  }
  return result;
}
