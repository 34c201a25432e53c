// Query → answer: what the registry says about one question, from the DNS view of the catalogue. Pure apart
// from the random source (injected, so tests are deterministic); the transport, EDNS0 and truncation are the
// server's business (server.ts, message.ts).
//
// Decisions (documented in man/mesh.1, DNS INTERFACE):
// - An instance takes traffic when it is passing, or warning unless onlyPassing is set; critical never does.
// - A/AAAA answer from the active priority tier only (the lowest tier with an instance taking traffic), as the
//   proxy does: backups are handed out only when every primary is down. At most maxAnswers records, picked and
//   ordered by a weighted shuffle per answer (an instance with twice the weight comes first twice as often).
// - Instances registered by host name have no address to hand out: when the active tier holds only such
//   instances, A/AAAA/CNAME queries get one CNAME to a weighted pick of them; in a tier that mixes host names
//   and IPs, the IPs answer and the host names are reachable through SRV.
// - SRV lists every instance taking traffic, in every tier, with priority = the tier and weight = the weight,
//   ordered by tier and then by weighted shuffle. Targets: `<hex>.addr.<domain>` (with its A/AAAA in the
//   additional section) for an IP, the host name itself otherwise.
// - A name exists when its service has instances in any health: with nothing taking traffic the answer is
//   NODATA (NOERROR, no records), not NXDOMAIN. A tag name exists when an instance of the service has the tag.
// - ANY (RFC 8482) is answered minimally: the one RRset an A query would give, else AAAA, else CNAME, else the
//   synthesised HINFO "RFC8482".
import type { Answer, Question } from 'dns-packet';
import type { DnsCatalogue, DnsInstance } from './catalogue.js';
import { parseName } from './names.js';

export interface ResolveSettings {
  /** Lower case, no trailing dot. */
  domain: string;
  maxAnswers: number;
  ttlSeconds: number;
  onlyPassing: boolean;
}

export type Rcode = 'NOERROR' | 'NXDOMAIN';

export interface Resolution {
  rcode: Rcode;
  answers: Answer[];
  authorities: Answer[];
  additionals: Answer[];
}

/** The question is for a name outside the domain: refuse it, or forward it to the recursor. */
export const OUTSIDE = Symbol('outside');

type Records = { answers: Answer[]; additionals?: Answer[] };

/**
 * What a name's answers are drawn from, worked out once per catalogue change rather than per query: the
 * instances taking traffic, the active tier, and its distinct IPv4 and IPv6 hosts. Only the weighted shuffle
 * happens per answer.
 */
interface Prepared {
  takers: DnsInstance[];
  tier: DnsInstance[];
  v4: DnsInstance[];
  v6: DnsInstance[];
}

export class Resolver {
  private readonly prepared = new Map<string, Prepared>();
  private preparedAt = -1;

  constructor(
    private readonly view: DnsCatalogue,
    private readonly s: ResolveSettings,
    private readonly random: () => number = Math.random,
  ) {}

  resolve(q: Question): Resolution | typeof OUTSIDE {
    const parsed = parseName(q.name, this.s.domain);
    const type: string = q.type; // dns-packet decodes 255 as "ANY", which its RecordType leaves out
    switch (parsed.kind) {
      case 'outside': return OUTSIDE;
      case 'nxdomain': return this.negative('NXDOMAIN');
      case 'empty': return this.negative('NOERROR');
      case 'apex':
        return type === 'SOA' || type === 'ANY' ? this.positive({ answers: [this.soa()] }) : this.negative('NOERROR');
      case 'addr': {
        const want = parsed.family === 4 ? 'A' : 'AAAA';
        if (type !== want && type !== 'ANY') return this.negative('NOERROR');
        return this.positive({ answers: [{ name: q.name, type: want, ttl: this.s.ttlSeconds, class: 'IN', data: parsed.ip }] });
      }
      case 'srv': {
        const all = this.view.instances(parsed.service);
        if (all === undefined) return this.negative('NXDOMAIN');
        if (type !== 'SRV' && type !== 'ANY') return this.negative('NOERROR');
        return this.positive(this.srv(q.name, this.prepare(parsed.service, all).takers));
      }
      case 'service': {
        const all = this.view.instances(parsed.service);
        if (all === undefined) return this.negative('NXDOMAIN');
        const tag = parsed.tag;
        if (tag === undefined) return this.forService(q.name, type, this.prepare(parsed.service, all));
        if (tag.startsWith('.')) {
          // <key>.<service>: the parent of the tag names with that key, so it exists (empty) when they do.
          const key = tag.slice(1);
          return this.negative(all.some((i) => i.tagKeys.has(key)) ? 'NOERROR' : 'NXDOMAIN');
        }
        const p = this.prepare(`${parsed.service} ${tag}`, all, tag);
        return p === undefined ? this.negative('NXDOMAIN') : this.forService(q.name, type, p);
      }
    }
  }

  private forService(name: string, type: string, p: Prepared): Resolution {
    let records: Records | undefined;
    switch (type) {
      case 'A': records = this.addresses(name, p, 4); break;
      case 'AAAA': records = this.addresses(name, p, 6); break;
      case 'CNAME': records = this.cname(name, p.tier); break;
      case 'SRV': records = this.srv(name, p.takers); break;
      case 'ANY':
        records = this.addresses(name, p, 4) ?? this.addresses(name, p, 6)
          ?? { answers: [{ name, type: 'HINFO', ttl: this.s.ttlSeconds, class: 'IN', data: { cpu: 'RFC8482', os: '' } }] };
        break;
      default: records = undefined;
    }
    return records === undefined || records.answers.length === 0 ? this.negative('NOERROR') : this.positive(records);
  }

  /**
   * The prepared form of a service's instances (those with `tag`, when given), cached under `key` until the
   * catalogue changes; undefined when no instance has the tag.
   */
  private prepare(key: string, all: readonly DnsInstance[], tag?: string): Prepared;
  private prepare(key: string, all: readonly DnsInstance[], tag: string): Prepared | undefined;
  private prepare(key: string, all: readonly DnsInstance[], tag?: string): Prepared | undefined {
    if (this.preparedAt !== this.view.version) {
      this.prepared.clear();
      this.preparedAt = this.view.version;
    }
    const cached = this.prepared.get(key);
    if (cached !== undefined) return cached;
    const matching = tag === undefined ? all : all.filter((i) => i.tags.has(tag));
    if (matching.length === 0) return undefined;
    const only = this.s.onlyPassing;
    const takers = matching.filter((i) => i.health === 'passing' || (i.health === 'warning' && !only));
    const tier = activeTier(takers);
    const p: Prepared = { takers, tier, v4: uniqueHosts(tier.filter((i) => i.family === 4)), v6: uniqueHosts(tier.filter((i) => i.family === 6)) };
    this.prepared.set(key, p);
    return p;
  }

  /** A/AAAA from the active tier, or its CNAME when that tier has host names only. */
  private addresses(name: string, p: Prepared, family: 4 | 6): Records | undefined {
    const ips = family === 4 ? p.v4 : p.v6;
    if (ips.length > 0) {
      const type = family === 4 ? 'A' : 'AAAA';
      const picked = weightedOrder(ips, this.s.maxAnswers, this.random);
      return { answers: picked.map((i) => ({ name, type, ttl: this.s.ttlSeconds, class: 'IN', data: i.host })) };
    }
    return this.cname(name, p.tier);
  }

  private cname(name: string, tier: DnsInstance[]): Records | undefined {
    if (tier.length === 0 || tier.some((i) => i.family !== 0)) return undefined;
    const [pick] = weightedOrder(tier, 1, this.random);
    return { answers: [{ name, type: 'CNAME', ttl: this.s.ttlSeconds, class: 'IN', data: pick!.host }] };
  }

  private srv(name: string, takers: DnsInstance[]): Records {
    const answers: Answer[] = [];
    const additionals: Answer[] = [];
    const glued = new Set<string>();
    const ttl = this.s.ttlSeconds;
    for (const tier of tiers(takers)) {
      for (const i of weightedOrder(tier, tier.length, this.random)) {
        const target = i.family === 0 ? i.target : `${i.target}.${this.s.domain}`;
        answers.push({ name, type: 'SRV', ttl, class: 'IN', data: { priority: i.priority, weight: i.weight, port: i.port, target } });
        if (i.family !== 0 && !glued.has(target)) {
          glued.add(target);
          additionals.push({ name: target, type: i.family === 4 ? 'A' : 'AAAA', ttl, class: 'IN', data: i.host });
        }
      }
    }
    return { answers, additionals };
  }

  private positive(r: Records): Resolution {
    return { rcode: 'NOERROR', answers: r.answers, authorities: [], additionals: r.additionals ?? [] };
  }

  /** NXDOMAIN or NODATA, with the zone's SOA in the authority section so resolvers can cache the negative. */
  private negative(rcode: Rcode): Resolution {
    return { rcode, answers: [], authorities: [this.soa()], additionals: [] };
  }

  private soa(): Answer {
    const d = this.s.domain;
    const ttl = this.s.ttlSeconds;
    return {
      name: d, type: 'SOA', ttl, class: 'IN',
      // The negative-caching TTL (minimum) is the answer TTL, so a new registration is not hidden by a cached
      // NXDOMAIN for longer than a positive answer would be cached.
      data: { mname: `ns.${d}`, rname: `hostmaster.${d}`, serial: this.view.serial % 2 ** 32, refresh: 3600, retry: 600, expire: 86_400, minimum: ttl },
    };
  }
}

/** The instances of the lowest priority tier present. */
function activeTier(takers: DnsInstance[]): DnsInstance[] {
  if (takers.length === 0) return takers;
  let tier = Infinity;
  for (const i of takers) if (i.priority < tier) tier = i.priority;
  return takers.filter((i) => i.priority === tier);
}

/** The instances grouped by priority, lowest first. */
function tiers(takers: DnsInstance[]): DnsInstance[][] {
  const by = new Map<number, DnsInstance[]>();
  for (const i of takers) {
    const list = by.get(i.priority);
    if (list) list.push(i); else by.set(i.priority, [i]);
  }
  return [...by.keys()].sort((a, b) => a - b).map((p) => by.get(p)!);
}

/** Several instances on one host (different ports) are one address record; the first of them stands for it. */
function uniqueHosts(instances: DnsInstance[]): DnsInstance[] {
  const seen = new Set<string>();
  return instances.filter((i) => (seen.has(i.host) ? false : (seen.add(i.host), true)));
}

/**
 * Up to `limit` items in a weighted random order: each item draws an exponential variable with rate = its
 * weight and the smallest come first (Efraimidis–Spirakis), so the first pick is item i with probability
 * w_i / Σw, and so on down the list without replacement.
 */
export function weightedOrder<T extends { weight: number }>(items: readonly T[], limit: number, random: () => number): T[] {
  const keyed = items.map((item) => ({ item, key: -Math.log(1 - random()) / Math.max(item.weight, 1) }));
  keyed.sort((a, b) => a.key - b.key);
  const out: T[] = [];
  for (let i = 0; i < keyed.length && i < limit; i++) out.push(keyed[i]!.item);
  return out;
}
