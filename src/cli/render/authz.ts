// Pure renderers for `mesh authz test`: one line for people, the same value as JSON for scripts.
import { Chalk } from 'chalk';
import type { Decision } from '../../authz/policy.js';

export interface AuthzTestView {
  policy: string | null;
  from: string | null;
  to: string;
  method: string;
  path: string;
  normalizedPath: string | null;
  allowed: boolean;
  decision: 'allow' | 'deny';
  rule: string;
}

export function authzTestView(policy: string | null, req: { from: string | null; to: string; method: string; path: string }, d: Decision): AuthzTestView {
  return {
    policy, from: req.from, to: req.to, method: req.method, path: req.path,
    normalizedPath: d.path, allowed: d.allowed, decision: d.allowed ? 'allow' : 'deny', rule: d.rule,
  };
}

export function renderAuthzTest(v: AuthzTestView, opts: { color: boolean }): string {
  const c = new Chalk({ level: opts.color ? 1 : 0 });
  const verdict = v.allowed ? c.green('ALLOW') : c.red('DENY');
  const path = v.normalizedPath !== null && v.normalizedPath !== v.path ? `${v.path} (as ${v.normalizedPath})` : v.path;
  return `${verdict}  ${v.from ?? 'unauthenticated'} -> ${v.to}  ${v.method} ${path}  by ${v.rule}\n`;
}

export function renderJson(v: AuthzTestView): string {
  return `${JSON.stringify(v, null, 2)}\n`;
}
