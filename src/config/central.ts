// The registry's central config: the proxy config document (the same schema as a proxy's --config file) and the
// authorization policy (the same schema as a sidecar's --policy file), kept as the documents users wrote so
// that every proxy re-validates and merges them exactly as it would its own files. Pure: the registry validates
// and merges with these functions, the proxy merges its local file over them with the same ones.
//
// Apply semantics (`mesh config apply -f`): a document names some services and maybe `defaults`; each named
// entry replaces the stored one whole, and entries it does not name stay as they are (as `kubectl apply` does
// per object). `mesh authz apply -f` replaces the whole policy. Precedence at a proxy: a field its local
// --config file sets overrides the same field of the central entry (per service and per top-level setting:
// `timeout`, `retries`, `outlier` …; `routes` counts as one field), and the local --policy file, when given,
// replaces the central policy whole, because merging two security policies rule by rule would be guesswork.
import { PolicyFormatError, policyFromDocument } from '../authz/load.js';
import { ValidationError } from '../core/errors.js';
import { validateFaults, type Fault } from './faults.js';
import { parseConfig, SERVICE_KEYS } from './proxy-config.js';

export type JsonObject = Record<string, unknown>;

export interface ProxyDocument {
  defaults?: JsonObject;
  services?: Record<string, JsonObject>;
}

export interface CentralConfig {
  proxy: ProxyDocument;
  /** The policy document, or null when there is no central policy. */
  authz: JsonObject | null;
  /** Time-boxed faults (src/config/faults.ts); absent when none. Rollback leaves them as they are. */
  faults?: Fault[];
}

export const EMPTY_CENTRAL: CentralConfig = Object.freeze({ proxy: {}, authz: null }) as CentralConfig;

/** The largest central config accepted (its JSON); a proxy config this large is a mistake, not a mesh. */
export const MAX_CENTRAL_BYTES = 256 * 1024;

const isObject = (v: unknown): v is JsonObject => typeof v === 'object' && v !== null && !Array.isArray(v);

/**
 * Checks a central config with the proxy's and the sidecar's own validators. Throws ValidationError whose
 * `field` is the path in the document (`proxy.services.orders.timeout`, `authz.services.db.allow[0].from`).
 */
export function validateCentral(value: unknown): CentralConfig {
  if (!isObject(value)) throw new ValidationError('(top level)', '(top level) must be an object with "proxy" and "authz"');
  for (const k of Object.keys(value)) {
    if (k !== 'proxy' && k !== 'authz' && k !== 'faults') throw new ValidationError(k, `${k} is not a known part of the config (known: proxy, authz, faults)`);
  }
  const proxy = value.proxy ?? {};
  try {
    parseConfig(proxy);
  } catch (err) {
    if (err instanceof ValidationError) throw new ValidationError(`proxy.${err.field}`, `proxy.${err.message}`);
    throw err;
  }
  const authz = value.authz ?? null;
  if (authz !== null) {
    try {
      policyFromDocument(authz);
    } catch (err) {
      if (err instanceof PolicyFormatError) throw new ValidationError(`authz.${err.where}`, `authz.${err.where} ${err.what}`);
      throw err;
    }
  }
  const faults = value.faults === undefined ? undefined : validateFaults(value.faults);
  const size = Buffer.byteLength(JSON.stringify({ proxy, authz, faults }));
  if (size > MAX_CENTRAL_BYTES) {
    throw new ValidationError('(top level)', `the config would be ${size} bytes; the registry keeps at most ${MAX_CENTRAL_BYTES} (split it, or drop unused services)`);
  }
  return { proxy: proxy as ProxyDocument, authz: authz as JsonObject | null, ...(faults === undefined || faults.length === 0 ? {} : { faults }) };
}

/** `mesh config apply`: the services (and defaults) `doc` names replace the stored ones; the rest stay. */
export function applyProxyDocument(current: ProxyDocument, doc: ProxyDocument): ProxyDocument {
  const out: ProxyDocument = {};
  const defaults = doc.defaults ?? current.defaults;
  if (defaults !== undefined) out.defaults = defaults;
  const services = { ...(current.services ?? {}), ...(doc.services ?? {}) };
  if (Object.keys(services).length > 0) out.services = sortKeys(services);
  return out;
}

/** `mesh config delete <service>`: the document without that service's entry. */
export function deleteService(current: ProxyDocument, service: string): ProxyDocument {
  const services = { ...(current.services ?? {}) };
  delete services[service];
  const out: ProxyDocument = {};
  if (current.defaults !== undefined) out.defaults = current.defaults;
  if (Object.keys(services).length > 0) out.services = services;
  return out;
}

export type FieldSource = 'file' | 'central';

/**
 * A proxy's effective document: the central one with its local file laid over it field by field, plus where
 * each field that is set came from (keyed `defaults` or `services.<name>`), for `mesh routes explain`.
 */
export function overlayProxyDocuments(central: ProxyDocument, file: ProxyDocument): { doc: ProxyDocument; sources: Record<string, Record<string, FieldSource>> } {
  const sources: Record<string, Record<string, FieldSource>> = {};
  const layer = (key: string, base: JsonObject | undefined, over: JsonObject | undefined): JsonObject | undefined => {
    if (base === undefined && over === undefined) return undefined;
    const src: Record<string, FieldSource> = {};
    for (const f of Object.keys(base ?? {})) src[f] = 'central';
    for (const f of Object.keys(over ?? {})) src[f] = 'file';
    sources[key] = src;
    return { ...(base ?? {}), ...(over ?? {}) };
  };
  const doc: ProxyDocument = {};
  const defaults = layer('defaults', central.defaults, file.defaults);
  if (defaults !== undefined) doc.defaults = defaults;
  const names = new Set([...Object.keys(central.services ?? {}), ...Object.keys(file.services ?? {})]);
  if (names.size > 0) {
    doc.services = {};
    for (const name of [...names].sort()) doc.services[name] = layer(`services.${name}`, central.services?.[name], file.services?.[name])!;
  }
  return { doc, sources };
}

export type SettingSource = 'file' | 'central' | 'file defaults' | 'central defaults' | 'built-in';

/**
 * Where each of a service's settings comes from at a proxy: the most specific entry that sets it wins (the
 * service's own entry over `defaults`), and within one entry the local file wins over the central config.
 */
export function settingSources(effective: { version: number; sources: Record<string, Record<string, FieldSource>> }, service: string): { version: number; fields: Record<string, SettingSource> } {
  const own = effective.sources[`services.${service}`] ?? {};
  const defaults = effective.sources.defaults ?? {};
  const fields: Record<string, SettingSource> = {};
  for (const k of SERVICE_KEYS) {
    const o = own[k];
    const d = defaults[k];
    fields[k] = o ?? (d === undefined ? 'built-in' : `${d} defaults`);
  }
  return { version: effective.version, fields };
}

export interface EntryDiff {
  /** `defaults`, `services.<name>` or `authz`. */
  entry: string;
  change: 'added' | 'removed' | 'changed';
  /** Changed fields (dotted paths inside the entry) with their old and new values. */
  fields: Array<{ field: string; from?: unknown; to?: unknown }>;
}

/** What changes from `a` to `b`, per entry, field by field; empty when they are equal. */
export function diffCentral(a: CentralConfig, b: CentralConfig): EntryDiff[] {
  const out: EntryDiff[] = [];
  const entry = (name: string, x: unknown, y: unknown) => {
    if (x === undefined && y === undefined) return;
    const fields: EntryDiff['fields'] = [];
    diffValues('', x ?? {}, y ?? {}, fields);
    if (x === undefined) out.push({ entry: name, change: 'added', fields });
    else if (y === undefined) out.push({ entry: name, change: 'removed', fields });
    else if (fields.length > 0) out.push({ entry: name, change: 'changed', fields });
  };
  entry('defaults', a.proxy.defaults, b.proxy.defaults);
  const names = new Set([...Object.keys(a.proxy.services ?? {}), ...Object.keys(b.proxy.services ?? {})]);
  for (const name of [...names].sort()) entry(`services.${name}`, a.proxy.services?.[name], b.proxy.services?.[name]);
  entry('authz', a.authz ?? undefined, b.authz ?? undefined);
  const faultIds = (c: CentralConfig) => new Map((c.faults ?? []).map((f) => [f.id, f]));
  const fa = faultIds(a);
  const fb = faultIds(b);
  for (const id of [...new Set([...fa.keys(), ...fb.keys()])].sort()) entry(`faults.${id}`, fa.get(id), fb.get(id));
  return out;
}

function diffValues(path: string, x: unknown, y: unknown, out: EntryDiff['fields']): void {
  if (isObject(x) && isObject(y)) {
    for (const k of [...new Set([...Object.keys(x), ...Object.keys(y)])].sort()) {
      diffValues(path === '' ? k : `${path}.${k}`, x[k], y[k], out);
    }
    return;
  }
  if (JSON.stringify(x) === JSON.stringify(y)) return;
  out.push({ field: path === '' ? '(whole entry)' : path, ...(x === undefined ? {} : { from: x }), ...(y === undefined ? {} : { to: y }) });
}

function sortKeys<T>(o: Record<string, T>): Record<string, T> {
  return Object.fromEntries(Object.keys(o).sort().map((k) => [k, o[k]!]));
}
