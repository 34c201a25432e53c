// The names the registry answers under its domain, and how a query name maps onto them. Pure functions.
//
//   <service>.service.<domain>                 the instances of a service (A, AAAA, CNAME, SRV)
//   <value>.<key>.<service>.service.<domain>   those with the tag key=value, e.g. v2.version.orders.service.mesh
//   _<service>._tcp.service.<domain>           RFC 2782 form of the SRV name
//   <hex>.addr.<domain>                        an instance address, the SRV target of an instance registered
//                                              by IP (8 hex digits for IPv4, 32 for IPv6, as Consul does)
//
// A tag maps to two labels, value then key (DNS names go from specific to general), so `version=v2` and
// `version-x=2` can never collide the way a single `version-v2` label would. Only tags whose key and value are
// both DNS labels (letters, digits, '-' and '_', at most 63 characters) can be reached by name; the others
// (keys with '.' or '/', values with spaces) are still registered, just not addressable through DNS.
// Matching is case-insensitive throughout (RFC 4343): names are compared in lower case.

import { isLabel } from '../../core/dns-name.js';

export { isLabel, normaliseDomain } from '../../core/dns-name.js';

export type ParsedName =
  | { kind: 'apex' }
  | { kind: 'service'; service: string; tag?: string }
  | { kind: 'srv'; service: string }
  | { kind: 'addr'; ip: string; family: 4 | 6 }
  /** An empty non-terminal such as service.<domain>: it exists, but holds no records. */
  | { kind: 'empty' }
  /** Inside the domain, but not a name mesh serves. */
  | { kind: 'nxdomain' }
  | { kind: 'outside' };

const SERVICE = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;

/**
 * The lookup key of a tag within its service, `<value>.<key>` in lower case, or undefined when the tag has no
 * DNS name (see the header).
 */
export function tagLabel(key: string, value: string): string | undefined {
  const k = key.toLowerCase();
  const v = value.toLowerCase();
  return isLabel(k) && isLabel(v) ? `${v}.${k}` : undefined;
}


/** Classifies a query name (as dns-packet decodes it, without the trailing dot) relative to `domain`. */
export function parseName(name: string, domain: string): ParsedName {
  const n = name.toLowerCase().replace(/\.$/, '');
  if (n === domain) return { kind: 'apex' };
  if (!n.endsWith(`.${domain}`)) return { kind: 'outside' };
  const labels = n.slice(0, n.length - domain.length - 1).split('.');
  const top = labels[labels.length - 1];
  if (top === 'service') return parseServiceName(labels.slice(0, -1));
  if (top === 'addr') {
    if (labels.length === 1) return { kind: 'empty' };
    if (labels.length !== 2) return { kind: 'nxdomain' };
    return parseAddrLabel(labels[0]!);
  }
  return { kind: 'nxdomain' };
}

/** labels: what comes before `service.<domain>`, leftmost first. */
function parseServiceName(labels: string[]): ParsedName {
  if (labels.length === 0) return { kind: 'empty' };
  const last = labels[labels.length - 1]!;
  if (labels.length === 1) return SERVICE.test(last) && last.length <= 63 ? { kind: 'service', service: last } : { kind: 'nxdomain' };
  if (labels.length === 2 && last === '_tcp' && labels[0]!.startsWith('_')) {
    const service = labels[0]!.slice(1);
    return SERVICE.test(service) && service.length <= 63 ? { kind: 'srv', service } : { kind: 'nxdomain' };
  }
  if (labels.length === 3 && SERVICE.test(last) && isLabel(labels[0]!) && isLabel(labels[1]!)) {
    return { kind: 'service', service: last, tag: `${labels[0]}.${labels[1]}` };
  }
  // <key>.<service>.service.<domain> is the parent of every tag name with that key: present but empty when
  // the service exists. The resolver decides; here it is a service name with a partial tag.
  if (labels.length === 2 && SERVICE.test(last) && isLabel(labels[0]!)) return { kind: 'service', service: last, tag: `.${labels[0]}` };
  return { kind: 'nxdomain' };
}

/** The label of an address: IPv4 as 8 hex digits, IPv6 as 32. */
export function addrLabel(ip: string, family: 4 | 6): string {
  if (family === 4) return ip.split('.').map((o) => Number(o).toString(16).padStart(2, '0')).join('');
  return expandIPv6(ip).map((g) => g.toString(16).padStart(4, '0')).join('');
}

function parseAddrLabel(label: string): ParsedName {
  if (/^[0-9a-f]{8}$/.test(label)) {
    const octets = [0, 2, 4, 6].map((i) => parseInt(label.slice(i, i + 2), 16));
    return { kind: 'addr', ip: octets.join('.'), family: 4 };
  }
  if (/^[0-9a-f]{32}$/.test(label)) {
    const groups: string[] = [];
    for (let i = 0; i < 32; i += 4) groups.push(parseInt(label.slice(i, i + 4), 16).toString(16));
    return { kind: 'addr', ip: groups.join(':'), family: 6 };
  }
  return { kind: 'nxdomain' };
}

/** The eight 16-bit groups of an IPv6 address (with :: and an embedded IPv4 tail expanded). */
function expandIPv6(ip: string): number[] {
  let text = ip;
  const v4 = /(\d+)\.(\d+)\.(\d+)\.(\d+)$/.exec(text);
  if (v4) {
    const [a, b, c, d] = v4.slice(1).map(Number) as [number, number, number, number];
    text = `${text.slice(0, v4.index)}${((a << 8) | b).toString(16)}:${((c << 8) | d).toString(16)}`;
  }
  const [head, tail] = text.split('::') as [string, string | undefined];
  const h = head === '' ? [] : head.split(':');
  const t = tail === undefined || tail === '' ? [] : tail.split(':');
  const zeros = tail === undefined ? [] : new Array<string>(8 - h.length - t.length).fill('0');
  return [...h, ...zeros, ...t].map((g) => parseInt(g, 16));
}
