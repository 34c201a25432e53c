// The proxy's config (a file, or the registry's central config entries): per-service settings and route rules,
// strictly validated. One schema, one module: the proxy and the registry both validate with parseConfig, so the
// registry refuses exactly what a proxy would refuse. It lives outside src/proxy so the registry never imports
// the data plane.
// Validation names the exact field that is wrong, so a refused reload tells the user what to fix.
import { readFile } from 'node:fs/promises';
import { parseYaml } from '../core/yaml.js';
import { parseDuration } from '../core/duration.js';
import { MeshError, ValidationError } from '../core/errors.js';
import { POLICY_NAMES, type PolicyName } from './policy-names.js';
import { normalisePath, type RouteRule } from './route-rule.js';

export interface OutlierSettings {
  consecutiveFailures: number;
  baseEjectionMs: number;
  maxEjectionMs: number;
  maxEjectionPercent: number;
}

export interface RetryBudgetSettings {
  /** Retries may add at most this percentage of the requests in the window. */
  percent: number;
  /** ...plus this many retries per second, so a quiet service can still retry. */
  minPerSecond: number;
}

export interface ServiceSettings {
  policy: PolicyName;
  /** Header whose value is the consistent-hash key; undefined = the client address. */
  hashHeader: string | undefined;
  timeoutMs: number;
  perTryTimeoutMs: number;
  connectTimeoutMs: number;
  /** Retries after the first try (0 = none). */
  retries: number;
  /** Concurrent requests allowed to the service before 503 circuit-open; undefined = unlimited. */
  maxConcurrent: number | undefined;
  healthyIncludesWarning: boolean;
  /** Forward request headers whose name has an underscore (dropped by default: underscore-headers.ts). */
  allowUnderscoresInHeaders: boolean;
  outlier: OutlierSettings;
  retryBudget: RetryBudgetSettings;
  routes: RouteRule[];
}

export interface ProxyConfig {
  defaults: ServiceSettings;
  services: Map<string, ServiceSettings>;
}

export const BUILTIN_DEFAULTS: ServiceSettings = {
  policy: 'round-robin',
  hashHeader: undefined,
  timeoutMs: 15_000,
  perTryTimeoutMs: 15_000,
  connectTimeoutMs: 2_000,
  retries: 2,
  maxConcurrent: undefined,
  healthyIncludesWarning: true,
  allowUnderscoresInHeaders: false,
  outlier: { consecutiveFailures: 5, baseEjectionMs: 30_000, maxEjectionMs: 300_000, maxEjectionPercent: 10 },
  retryBudget: { percent: 20, minPerSecond: 10 },
  routes: [],
};

export const DEFAULT_CONFIG: ProxyConfig = { defaults: BUILTIN_DEFAULTS, services: new Map() };

export function settingsFor(config: ProxyConfig, service: string): ServiceSettings {
  return config.services.get(service) ?? config.defaults;
}

/** Reads and validates a config file; throws MeshError MESH_ERR_CONFIG_INVALID naming the file and field. */
export async function loadConfig(file: string): Promise<ProxyConfig> {
  return (await loadConfigDocument(file)).config;
}

/**
 * Reads a config file and returns both the validated config and the document as written, which the proxy merges
 * field by field with the registry's central config (see src/config/central.ts).
 */
export async function loadConfigDocument(file: string): Promise<{ doc: Record<string, unknown>; config: ProxyConfig }> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (err) {
    throw new MeshError('MESH_ERR_CONFIG_INVALID', `cannot read config ${file}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
  }
  let doc: unknown;
  try {
    doc = /\.json$/i.test(file) ? JSON.parse(text) : parseYaml(text);
  } catch (err) {
    throw new MeshError('MESH_ERR_CONFIG_INVALID', `config ${file} does not parse: ${(err as Error).message.split('\n')[0]}`);
  }
  try {
    return { doc: (doc ?? {}) as Record<string, unknown>, config: parseConfig(doc ?? {}) };
  } catch (err) {
    if (err instanceof ValidationError) throw new MeshError('MESH_ERR_CONFIG_INVALID', `config ${file}: ${err.message}`);
    throw err;
  }
}

/** Validates a parsed document (JSON or YAML). Throws ValidationError with the field path. */
export function parseConfig(doc: unknown): ProxyConfig {
  const top = object(doc, '(top level)', ['defaults', 'services']);
  const defaults = top.defaults === undefined ? BUILTIN_DEFAULTS : parseService(top.defaults, 'defaults', BUILTIN_DEFAULTS, false);
  const services = new Map<string, ServiceSettings>();
  if (top.services !== undefined) {
    const s = object(top.services, 'services');
    for (const [name, value] of Object.entries(s)) {
      if (!/^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/.test(name) || name.length > 63) fail(`services.${name}`, 'is not a valid service name (a DNS label such as orders)');
      services.set(name, parseService(value, `services.${name}`, defaults, true));
    }
  }
  return { defaults, services };
}

/** The settings a service entry (or `defaults`) may set. */
export const SERVICE_KEYS = ['policy', 'hashHeader', 'timeout', 'perTryTimeout', 'connectTimeout', 'retries', 'maxConcurrent', 'healthyIncludesWarning', 'allowUnderscoresInHeaders', 'outlier', 'retryBudget', 'routes'];

function parseService(value: unknown, at: string, base: ServiceSettings, allowRoutes: boolean): ServiceSettings {
  const o = object(value ?? {}, at, allowRoutes ? SERVICE_KEYS : SERVICE_KEYS.filter((k) => k !== 'routes'));
  const s: ServiceSettings = { ...base, outlier: { ...base.outlier }, retryBudget: { ...base.retryBudget }, routes: [] };
  if (o.policy !== undefined) {
    if (typeof o.policy !== 'string' || !(POLICY_NAMES as readonly string[]).includes(o.policy)) fail(`${at}.policy`, `must be one of ${POLICY_NAMES.join(', ')}`);
    s.policy = o.policy as PolicyName;
  }
  if (o.hashHeader !== undefined) s.hashHeader = headerName(o.hashHeader, `${at}.hashHeader`);
  if (o.timeout !== undefined) s.timeoutMs = duration(o.timeout, `${at}.timeout`);
  if (o.perTryTimeout !== undefined) s.perTryTimeoutMs = duration(o.perTryTimeout, `${at}.perTryTimeout`);
  else if (o.timeout !== undefined) s.perTryTimeoutMs = Math.min(base.perTryTimeoutMs, s.timeoutMs);
  if (o.connectTimeout !== undefined) s.connectTimeoutMs = duration(o.connectTimeout, `${at}.connectTimeout`);
  if (o.retries !== undefined) s.retries = int(o.retries, `${at}.retries`, 0, 10);
  if (o.maxConcurrent !== undefined) s.maxConcurrent = int(o.maxConcurrent, `${at}.maxConcurrent`, 1, 1_000_000);
  if (o.healthyIncludesWarning !== undefined) s.healthyIncludesWarning = bool(o.healthyIncludesWarning, `${at}.healthyIncludesWarning`);
  if (o.allowUnderscoresInHeaders !== undefined) s.allowUnderscoresInHeaders = bool(o.allowUnderscoresInHeaders, `${at}.allowUnderscoresInHeaders`);
  if (o.outlier !== undefined) {
    const x = object(o.outlier, `${at}.outlier`, ['consecutiveFailures', 'baseEjectionTime', 'maxEjectionTime', 'maxEjectionPercent']);
    if (x.consecutiveFailures !== undefined) s.outlier.consecutiveFailures = int(x.consecutiveFailures, `${at}.outlier.consecutiveFailures`, 1, 1000);
    if (x.baseEjectionTime !== undefined) s.outlier.baseEjectionMs = duration(x.baseEjectionTime, `${at}.outlier.baseEjectionTime`);
    if (x.maxEjectionTime !== undefined) s.outlier.maxEjectionMs = duration(x.maxEjectionTime, `${at}.outlier.maxEjectionTime`);
    if (x.maxEjectionPercent !== undefined) s.outlier.maxEjectionPercent = int(x.maxEjectionPercent, `${at}.outlier.maxEjectionPercent`, 0, 100);
  }
  if (o.retryBudget !== undefined) {
    const x = object(o.retryBudget, `${at}.retryBudget`, ['percent', 'minPerSecond']);
    if (x.percent !== undefined) s.retryBudget.percent = int(x.percent, `${at}.retryBudget.percent`, 0, 100);
    if (x.minPerSecond !== undefined) s.retryBudget.minPerSecond = int(x.minPerSecond, `${at}.retryBudget.minPerSecond`, 0, 100_000);
  }
  if (s.perTryTimeoutMs > s.timeoutMs) fail(`${at}.perTryTimeout`, `(${s.perTryTimeoutMs} ms) must not exceed timeout (${s.timeoutMs} ms)`);
  if (o.routes !== undefined) {
    if (!Array.isArray(o.routes)) fail(`${at}.routes`, 'must be a list of route rules');
    s.routes = (o.routes as unknown[]).map((r, i) => parseRoute(r, `${at}.routes[${i}]`));
  }
  return s;
}

function parseRoute(value: unknown, at: string): RouteRule {
  const o = object(value, at, ['match', 'split', 'retryable']);
  const m = object(o.match ?? {}, `${at}.match`, ['pathPrefix', 'headers']);
  let pathPrefix = '/';
  if (m.pathPrefix !== undefined) {
    if (typeof m.pathPrefix !== 'string' || !m.pathPrefix.startsWith('/')) fail(`${at}.match.pathPrefix`, 'must be a path starting with "/"');
    pathPrefix = normalisePath(m.pathPrefix);
  }
  const headers: Array<[string, string]> = [];
  if (m.headers !== undefined) {
    for (const [k, v] of Object.entries(object(m.headers, `${at}.match.headers`))) {
      if (typeof v !== 'string') fail(`${at}.match.headers.${k}`, 'must be a string value');
      headers.push([headerName(k, `${at}.match.headers`), v]);
    }
  }
  const split: Array<{ tags: Record<string, string>; weight: number }> = [];
  if (o.split !== undefined) {
    if (!Array.isArray(o.split) || o.split.length === 0) fail(`${at}.split`, 'must be a non-empty list of {tags, weight}');
    (o.split as unknown[]).forEach((e, i) => {
      const x = object(e, `${at}.split[${i}]`, ['tags', 'weight']);
      const tags: Record<string, string> = {};
      for (const [k, v] of Object.entries(object(x.tags ?? {}, `${at}.split[${i}].tags`))) {
        if (typeof v !== 'string') fail(`${at}.split[${i}].tags.${k}`, 'must be a string value');
        tags[k] = v;
      }
      split.push({ tags, weight: x.weight === undefined ? 1 : int(x.weight, `${at}.split[${i}].weight`, 0, 1_000_000) });
    });
    if (split.every((x) => x.weight === 0)) fail(`${at}.split`, 'needs at least one weight above 0');
  }
  if (o.retryable !== undefined && typeof o.retryable !== 'boolean') fail(`${at}.retryable`, 'must be true or false');
  return { pathPrefix, headers, split, totalWeight: split.reduce((a, x) => a + x.weight, 0), retryable: o.retryable === true };
}

function fail(at: string, what: string): never {
  throw new ValidationError(at, `${at} ${what}`);
}

function object(v: unknown, at: string, allowed?: string[]): Record<string, unknown> {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) fail(at, 'must be a mapping of keys to values');
  if (allowed !== undefined) {
    for (const k of Object.keys(v)) if (!allowed.includes(k)) fail(`${at}.${k}`, `is not a known setting (known: ${allowed.join(', ')})`);
  }
  return v as Record<string, unknown>;
}

function duration(v: unknown, at: string): number {
  if (typeof v !== 'string' && typeof v !== 'number') fail(at, 'must be a duration such as 500ms or 10s');
  let ms: number;
  try {
    ms = parseDuration(String(v), at);
  } catch {
    fail(at, `"${String(v)}" is not a duration: use a number with a unit, e.g. 500ms, 10s`);
  }
  if (ms <= 0) fail(at, 'must be above 0');
  return ms;
}

function bool(v: unknown, at: string): boolean {
  if (typeof v !== 'boolean') fail(at, 'must be true or false');
  return v;
}

function int(v: unknown, at: string, min: number, max: number): number {
  if (typeof v !== 'number' || !Number.isInteger(v) || v < min || v > max) fail(at, `must be an integer from ${min} to ${max}`);
  return v;
}

function headerName(v: unknown, at: string): string {
  if (typeof v !== 'string' || !/^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/.test(v)) fail(at, `"${String(v)}" is not a valid header name`);
  return v.toLowerCase();
}
