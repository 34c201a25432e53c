// Validation shared by the CLI (usage error, exit 2, nothing sent) and the API (400, store unchanged).
import { ValidationError } from './errors.js';
import { DEFAULTS, type HealthCheckSpec, type InstanceSpec } from './types.js';

const SERVICE_NAME = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;
const INSTANCE_ID = /^[A-Za-z0-9]([-A-Za-z0-9_.:]*[A-Za-z0-9])?$/;
const HOSTNAME = /^(?=.{1,253}$)[A-Za-z0-9]([-A-Za-z0-9]*[A-Za-z0-9])?(\.[A-Za-z0-9]([-A-Za-z0-9]*[A-Za-z0-9])?)*$/;
const IPV4 = /^(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)(\.(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)){3}$/;
const TAG_KEY = /^[A-Za-z0-9]([-A-Za-z0-9_.\/]*[A-Za-z0-9])?$/;

export function validateServiceName(name: unknown): string {
  if (typeof name !== 'string' || name.length === 0) throw new ValidationError('service', 'service name is required');
  if (name.length > 63 || !SERVICE_NAME.test(name)) {
    throw new ValidationError('service', `invalid service name "${name}": use a DNS label (lowercase letters, digits and '-', at most 63 characters, e.g. orders)`);
  }
  return name;
}

export function validateInstanceId(id: unknown): string {
  if (typeof id !== 'string' || id.length === 0 || id.length > 128 || !INSTANCE_ID.test(id)) {
    throw new ValidationError('id', `invalid instance id "${String(id)}": use letters, digits, '-', '_', '.', ':' (at most 128 characters)`);
  }
  return id;
}

export function validatePort(port: unknown, field = 'port'): number {
  const n = typeof port === 'string' && /^\d+$/.test(port) ? Number(port) : port;
  if (typeof n !== 'number' || !Number.isInteger(n) || n < 1 || n > 65535) {
    throw new ValidationError(field, `invalid ${field} "${String(port)}": use an integer from 1 to 65535`);
  }
  return n;
}

export interface HostPort { host: string; port: number }

/** Parses "host:port", "1.2.3.4:80" or "[::1]:80". The host is returned without brackets. */
export function parseHostPort(text: unknown, field = 'address'): HostPort {
  if (typeof text !== 'string' || text.length === 0) throw new ValidationError(field, `${field} is required, as host:port`);
  let host: string;
  let portText: string;
  if (text.startsWith('[')) {
    const end = text.indexOf(']');
    if (end < 0 || text[end + 1] !== ':') throw new ValidationError(field, `invalid ${field} "${text}": write IPv6 as [addr]:port, e.g. [::1]:8080`);
    host = text.slice(1, end);
    portText = text.slice(end + 2);
    if (!isIPv6(host)) throw new ValidationError(field, `invalid ${field} "${text}": "${host}" is not an IPv6 address`);
  } else {
    const colon = text.lastIndexOf(':');
    if (colon <= 0) throw new ValidationError(field, `invalid ${field} "${text}": use host:port, e.g. 127.0.0.1:8080`);
    host = text.slice(0, colon);
    portText = text.slice(colon + 1);
    if (host.includes(':')) throw new ValidationError(field, `invalid ${field} "${text}": write IPv6 as [addr]:port, e.g. [::1]:8080`);
    if (!IPV4.test(host) && (/^[\d.]+$/.test(host) || !HOSTNAME.test(host))) {
      throw new ValidationError(field, `invalid ${field} "${text}": "${host}" is not an IPv4 address or host name`);
    }
  }
  if (!/^\d+$/.test(portText)) throw new ValidationError(field, `invalid ${field} "${text}": port must be a number from 1 to 65535`);
  const port = Number(portText);
  if (port < 1 || port > 65535) throw new ValidationError(field, `invalid ${field} "${text}": port must be from 1 to 65535`);
  return { host, port };
}

/** A listen address: host:port where port 0 asks the OS for a free port (tests, `mesh demo`). */
export function parseListenAddress(text: unknown, field = 'listen'): HostPort {
  if (typeof text === 'string' && /:0$/.test(text)) return { host: parseHostPort(text.replace(/:0$/, ':1'), field).host, port: 0 };
  return parseHostPort(text, field);
}

export function formatHostPort(host: string, port: number): string {
  return host.includes(':') ? `[${host}]:${port}` : `${host}:${port}`;
}

function isIPv6(host: string): boolean {
  // Node's own parser is the authority on what an IPv6 literal is.
  try {
    return new URL(`http://[${host}]/`).hostname.length > 2;
  } catch {
    return false;
  }
}

export function validateWeight(weight: unknown): number {
  const n = typeof weight === 'string' && /^\d+$/.test(weight) ? Number(weight) : weight;
  if (typeof n !== 'number' || !Number.isInteger(n) || n < 1 || n > 1000) {
    throw new ValidationError('weight', `invalid weight "${String(weight)}": use an integer from 1 to 1000`);
  }
  return n;
}

export function validatePriority(priority: unknown): number {
  const n = typeof priority === 'string' && /^\d+$/.test(priority) ? Number(priority) : priority;
  if (typeof n !== 'number' || !Number.isInteger(n) || n < 0 || n > 100) {
    throw new ValidationError('priority', `invalid priority "${String(priority)}": use an integer from 0 (primary) to 100`);
  }
  return n;
}

export function validateZone(zone: unknown): string | undefined {
  if (zone === undefined || zone === null || zone === '') return undefined;
  if (typeof zone !== 'string' || zone.length > 63 || !TAG_KEY.test(zone)) {
    throw new ValidationError('zone', `invalid zone "${String(zone)}": use letters, digits, '-', '_', '.' (at most 63 characters)`);
  }
  return zone;
}

/** Parses "k=v" into [k, v]. */
export function parseTag(text: string): [string, string] {
  const eq = text.indexOf('=');
  if (eq <= 0) throw new ValidationError('tag', `invalid tag "${text}": use key=value, e.g. version=v2`);
  const key = text.slice(0, eq);
  const value = text.slice(eq + 1);
  validateTag(key, value);
  return [key, value];
}

export function validateTags(tags: unknown): Record<string, string> {
  if (tags === undefined || tags === null) return {};
  if (typeof tags !== 'object' || Array.isArray(tags)) throw new ValidationError('tags', 'tags must be an object of string values');
  const out: Record<string, string> = {};
  const entries = Object.entries(tags as Record<string, unknown>);
  if (entries.length > 64) throw new ValidationError('tags', 'at most 64 tags per instance');
  for (const [k, v] of entries) {
    if (typeof v !== 'string') throw new ValidationError('tags', `tag "${k}" must have a string value`);
    validateTag(k, v);
    out[k] = v;
  }
  return out;
}

function validateTag(key: string, value: string): void {
  if (key.length > 63 || !TAG_KEY.test(key)) throw new ValidationError('tag', `invalid tag key "${key}": use letters, digits, '-', '_', '.', '/'`);
  if (value.length > 255 || /[\u0000-\u001f\u007f]/.test(value)) throw new ValidationError('tag', `invalid tag value for "${key}": at most 255 printable characters`);
}

export function defaultInstanceId(service: string, address: string): string {
  const { host, port } = parseHostPort(address);
  return `${service}-${host.replace(/[^A-Za-z0-9.]/g, '-').replace(/^-+|-+$/g, '') || 'host'}-${port}`;
}

const CHECK_FIELDS = new Set(['ttlMs', 'http', 'tcp', 'intervalMs', 'timeoutMs', 'deregisterAfterMs']);

export function validateCheck(check: unknown): HealthCheckSpec | undefined {
  if (check === undefined || check === null) return undefined;
  if (typeof check !== 'object' || Array.isArray(check)) throw new ValidationError('check', 'check must be an object');
  const c = check as Record<string, unknown>;
  for (const k in c) if (!CHECK_FIELDS.has(k)) throw new ValidationError('check', `unknown field "check.${k}"`);
  const kinds = Number(c.ttlMs !== undefined) + Number(c.http !== undefined) + Number(c.tcp !== undefined);
  if (kinds > 1) throw new ValidationError('check', 'choose one of a TTL, an HTTP check or a TCP check');
  const out: HealthCheckSpec = {};
  const ms = (k: string, min: number, max: number): number | undefined => {
    const v = c[k];
    if (v === undefined) return undefined;
    if (typeof v !== 'number' || !Number.isInteger(v) || v < min || v > max) {
      throw new ValidationError('check', `check.${k} must be an integer number of milliseconds from ${min} to ${max}`);
    }
    return v;
  };
  const DAY = 86_400_000;
  if (c.ttlMs !== undefined) out.ttlMs = ms('ttlMs', 100, DAY);
  if (c.http !== undefined) {
    if (typeof c.http !== 'string') throw new ValidationError('check', 'check.http must be a URL string');
    let url: URL;
    try { url = new URL(c.http); } catch { throw new ValidationError('check', `invalid check URL "${c.http}": use http://host:port/path`); }
    if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new ValidationError('check', `invalid check URL "${c.http}": only http and https`);
    out.http = c.http;
  }
  if (c.tcp !== undefined) {
    parseHostPort(c.tcp, 'check.tcp');
    out.tcp = c.tcp as string;
  }
  const interval = ms('intervalMs', 100, DAY);
  const timeout = ms('timeoutMs', 10, DAY);
  const deregisterAfter = ms('deregisterAfterMs', 100, 30 * DAY);
  if (out.http !== undefined || out.tcp !== undefined) {
    out.intervalMs = interval ?? DEFAULTS.checkIntervalMs;
    out.timeoutMs = Math.min(timeout ?? DEFAULTS.checkTimeoutMs, out.intervalMs);
  } else if (interval !== undefined || timeout !== undefined) {
    throw new ValidationError('check', 'intervalMs and timeoutMs apply only to an HTTP or TCP check');
  }
  out.deregisterAfterMs = deregisterAfter ?? DEFAULTS.deregisterAfterMs;
  if (kinds === 0 && deregisterAfter === undefined) return undefined;
  return out;
}

const SPEC_FIELDS = new Set(['service', 'id', 'address', 'weight', 'priority', 'zone', 'tags', 'tlsPort', 'check']);

/**
 * Validates an untrusted registration body (already parsed JSON) into an InstanceSpec.
 * Unknown fields are refused so that a typo never silently drops a setting.
 */
export function validateInstanceSpec(body: unknown, pathService?: string, pathId?: string): InstanceSpec {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) throw new ValidationError('body', 'the registration must be a JSON object');
  const b = body as Record<string, unknown>;
  for (const k in b) if (!SPEC_FIELDS.has(k)) throw new ValidationError(k, `unknown field "${k}"`);
  const service = validateServiceName(b.service ?? pathService);
  if (pathService !== undefined && b.service !== undefined && b.service !== pathService) {
    throw new ValidationError('service', `body service "${String(b.service)}" does not match the URL's "${pathService}"`);
  }
  if (typeof b.address !== 'string') throw new ValidationError('address', 'address is required, as host:port');
  parseHostPort(b.address);
  const address = b.address;
  const id = validateInstanceId(b.id ?? pathId ?? defaultInstanceId(service, address));
  if (pathId !== undefined && b.id !== undefined && b.id !== pathId) {
    throw new ValidationError('id', `body id "${String(b.id)}" does not match the URL's "${pathId}"`);
  }
  const spec: InstanceSpec = {
    service,
    id,
    address,
    weight: b.weight === undefined ? DEFAULTS.weight : validateWeight(jsonNumber(b.weight, 'weight')),
    priority: b.priority === undefined ? DEFAULTS.priority : validatePriority(jsonNumber(b.priority, 'priority')),
    tags: validateTags(b.tags),
  };
  const zone = validateZone(b.zone);
  if (zone !== undefined) spec.zone = zone;
  if (b.tlsPort !== undefined && b.tlsPort !== null) spec.tlsPort = validatePort(jsonNumber(b.tlsPort, 'tlsPort'), 'tlsPort');
  const check = validateCheck(b.check);
  if (check !== undefined) spec.check = check;
  return spec;
}

/** JSON bodies must carry numbers as numbers; the CLI's string forms are parsed before they reach here. */
function jsonNumber(v: unknown, field: string): number {
  if (typeof v !== 'number') throw new ValidationError(field, `${field} must be a number, not ${v === null ? 'null' : typeof v}`);
  return v;
}
