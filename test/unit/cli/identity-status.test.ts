// The proxy's own identity as `mesh routes` shows it and `mesh check` judges it: time left, and a warning once
// less than 20% of the certificate's lifetime is left.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Chalk } from 'chalk';
import type { ProxyIdentity } from '../../../src/core/admin-types.js';
import { identityVerdict } from '../../../src/cli/checks.js';
import { identityLine } from '../../../src/cli/render/routes.js';

const NOW = Date.parse('2026-01-01T00:00:00Z');
const id = (lifetimeS: number, leftS: number, source: ProxyIdentity['source'] = 'registry'): ProxyIdentity => ({
  spiffeId: 'spiffe://mesh.local/service/web', trustDomain: 'mesh.local', source,
  notBefore: new Date(NOW - (lifetimeS - leftS) * 1000).toISOString(), notAfter: new Date(NOW + leftS * 1000).toISOString(),
});
const plain = new Chalk({ level: 0 });

test('identityLine: source and time left', () => {
  assert.equal(identityLine(id(100, 45), NOW, plain), 'identity spiffe://mesh.local/service/web (registry-issued, certificate valid 45s more)');
  assert.equal(identityLine(id(86_400, 3_700, 'files'), NOW, plain), 'identity spiffe://mesh.local/service/web (from files, certificate valid 61m40s more)');
  assert.equal(identityLine(id(100, -1), NOW, plain), 'identity spiffe://mesh.local/service/web (registry-issued, certificate EXPIRED)');
  assert.match(identityLine(id(100, 10), NOW, new Chalk({ level: 1 })), /\x1b\[31m/, 'red under 20% left');
});

test('identityVerdict: ok at 20% or more left, a warning below, a failure once expired', () => {
  assert.equal(identityVerdict(id(100, 20), NOW).ok, true);
  const low = identityVerdict(id(100, 19), NOW);
  assert.equal(low.ok, false);
  assert.match(low.detail, /expires in 19s \(less than 20% of its lifetime left\)/);
  assert.match(low.hint!, /renewal is failing/);
  assert.match(identityVerdict(id(100, -5), NOW).detail, /expired on/);
});
