// Reading a policy file (YAML or JSON) into a checked Policy, and keeping it current while a sidecar runs.
// Validation is strict: an unknown key or a misspelt method is an error, because a typo in a security policy
// must not silently open or close a path. A file that fails validation on reload is refused; the old policy stays.
import { readFileSync } from 'node:fs';
import { parseYaml } from '../core/yaml.js';
import { MeshError } from '../core/errors.js';
import { watchFiles, type FileWatch, type FileWatchOptions } from '../core/file-watch.js';
import { validateServiceName } from '../core/validate.js';
import { normalizePath } from './path.js';
import { ANY_SERVICE, UNAUTHENTICATED, type Policy, type PolicyRule, type ServicePolicy } from './policy.js';

const METHODS = new Set(['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS', 'TRACE', 'CONNECT']);

/** A policy document that fails validation; `where` is the field path (e.g. services.orders.allow[0].from). */
export class PolicyFormatError extends Error {
  constructor(readonly where: string, readonly what: string) { super(`${where}: ${what}`); }
}

const fail = (where: string, msg: string): never => { throw new PolicyFormatError(where, msg); };

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function onlyKeys(obj: Record<string, unknown>, keys: string[], where: string): void {
  for (const k of Object.keys(obj)) if (!keys.includes(k)) fail(where, `unknown key "${k}" (allowed: ${keys.join(', ')})`);
}

function stringList(v: unknown, where: string): string[] {
  const list = typeof v === 'string' ? [v] : v;
  if (!Array.isArray(list) || list.length === 0 || !list.every((x) => typeof x === 'string')) fail(where, 'expected a string or a non-empty list of strings');
  return list as string[];
}

function parseRule(v: unknown, where: string): PolicyRule {
  if (!isObject(v)) fail(where, 'expected an object with "from" and optional "methods", "paths", "name"');
  const o = v as Record<string, unknown>;
  onlyKeys(o, ['name', 'from', 'methods', 'paths'], where);
  if (o.from === undefined) fail(where, '"from" is required (service names, "*" or "unauthenticated")');
  const from = stringList(o.from, `${where}.from`).map((f, i) => {
    if (f === ANY_SERVICE || f === UNAUTHENTICATED) return f;
    try { return validateServiceName(f); } catch (err) { return fail(`${where}.from[${i}]`, (err as Error).message); }
  });
  const methods = o.methods === undefined ? null : stringList(o.methods, `${where}.methods`).map((m, i) => {
    const up = m.toUpperCase();
    if (up === '*') return up;
    if (!METHODS.has(up)) fail(`${where}.methods[${i}]`, `"${m}" is not an HTTP method`);
    return up;
  });
  const paths = o.paths === undefined ? null : stringList(o.paths, `${where}.paths`).map((p, i) => {
    if (!p.startsWith('/')) fail(`${where}.paths[${i}]`, `"${p}" must start with /`);
    const n = normalizePath(p);
    if (n === null || /[?#]/.test(p)) fail(`${where}.paths[${i}]`, `"${p}" is not a plain path prefix`);
    return n!;
  });
  if (o.name !== undefined && typeof o.name !== 'string') fail(`${where}.name`, 'expected a string');
  return {
    ...(typeof o.name === 'string' ? { name: o.name } : {}),
    from,
    methods: methods === null || methods.includes('*') ? null : methods,
    paths: paths === null || paths.includes('/') ? null : paths,
  };
}

/** Checks a parsed document and returns the policy it describes. Throws PolicyFormatError naming the spot. */
export function policyFromDocument(doc: unknown): Policy {
  if (!isObject(doc)) fail('policy', 'expected an object with "defaultAction" and/or "services"');
  const d = doc as Record<string, unknown>;
  onlyKeys(d, ['version', 'defaultAction', 'services'], 'policy');
  if (d.version !== undefined && d.version !== 1) fail('version', `unsupported version ${JSON.stringify(d.version)} (this mesh reads version 1)`);
  if (d.defaultAction !== undefined && d.defaultAction !== 'allow' && d.defaultAction !== 'deny') fail('defaultAction', 'use "allow" or "deny"');
  // "services" is optional: without it every destination follows defaultAction (`defaultAction: deny` alone
  // closes the mesh to everything), as the man page reads.
  if (d.services !== undefined && d.services !== null && !isObject(d.services)) fail('services', 'expected a map from destination service to its rules');
  const services: Record<string, ServicePolicy> = {};
  for (const [to, rules] of Object.entries((d.services ?? {}) as Record<string, unknown>)) {
    const where = `services.${to}`;
    try { validateServiceName(to); } catch (err) { fail(where, (err as Error).message); }
    if (rules === null) { services[to] = { allow: [], deny: [] }; continue; } // named with no rules: deny all
    if (!isObject(rules)) fail(where, 'expected an object with "allow" and/or "deny" lists');
    const r = rules as Record<string, unknown>;
    onlyKeys(r, ['allow', 'deny'], where);
    const list = (kind: 'allow' | 'deny') => {
      const v = r[kind];
      if (v === undefined || v === null) return [];
      if (!Array.isArray(v)) return fail(`${where}.${kind}`, 'expected a list of rules');
      return v.map((rule, i) => parseRule(rule, `${where}.${kind}[${i}]`));
    };
    services[to] = { allow: list('allow'), deny: list('deny') };
  }
  return { version: 1, defaultAction: (d.defaultAction as 'allow' | 'deny' | undefined) ?? 'allow', services };
}

/** Parses policy text; JSON when the file name ends in .json, YAML otherwise (YAML also reads JSON). */
export function parsePolicy(text: string, file: string): Policy {
  try {
    const doc: unknown = file.endsWith('.json') ? JSON.parse(text) : parseYaml(text);
    return policyFromDocument(doc);
  } catch (err) {
    const msg = (err as Error).message.split('\n')[0];
    throw new MeshError('MESH_ERR_CONFIG_INVALID', `policy "${file}" is invalid: ${msg}`, { hint: 'fix the file; see POLICY FILES in man mesh' });
  }
}

export function loadPolicyFile(file: string): Policy {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    throw new MeshError('MESH_ERR_CONFIG_INVALID', `cannot read policy "${file}": ${code === 'ENOENT' ? 'no such file' : (err as Error).message}`, { hint: 'pass an existing file to --policy' });
  }
  return parsePolicy(text, file);
}

/** What the sidecar asks per request: the policy in force (null: none, allow every authenticated caller). */
export interface PolicySource { readonly policy: Policy | null }

/** The policy a sidecar enforces: loaded at start (throwing if invalid), then reloaded when the file changes. */
export class PolicyHolder {
  #policy: Policy;
  #watch: FileWatch | undefined;
  readonly #listeners = new Set<(p: Policy) => void>();

  constructor(readonly file: string, private readonly opts: FileWatchOptions & { log?: (line: string) => void } = {}) {
    this.#policy = loadPolicyFile(file);
    this.#watch = watchFiles([file], () => this.reload(), opts);
  }

  get policy(): Policy { return this.#policy; }

  reload(): boolean {
    const log = this.opts.log ?? (() => {});
    try {
      this.#policy = loadPolicyFile(this.file);
    } catch (err) {
      log(`mesh: refused policy change (${(err as Error).message}); the previous policy stays in force`);
      return false;
    }
    log(`mesh: policy reloaded from ${this.file} (${Object.keys(this.#policy.services).length} services named)`);
    for (const l of this.#listeners) l(this.#policy);
    return true;
  }

  onReload(listener: (p: Policy) => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  close(): void {
    this.#watch?.close();
    this.#watch = undefined;
  }
}
