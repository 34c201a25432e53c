// Golden files for the `mesh certs inspect` table and `mesh authz test` line. `UPDATE_GOLDEN=1 node
// test/run.mjs unit render-certs` rewrites them after a deliberate change; review the diff before committing.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { CertReport } from '../../../src/tls/inspect.js';
import { renderInspectTable, renderJson } from '../../../src/cli/render/certs.js';
import { authzTestView, renderAuthzTest } from '../../../src/cli/render/authz.js';
import { REPO_ROOT } from '../../helpers/mesh.js';

const GOLDEN = join(REPO_ROOT, 'test', 'unit', 'cli', 'golden');
function golden(name: string, actual: string): void {
  const file = join(GOLDEN, name);
  if (process.env.UPDATE_GOLDEN === '1') writeFileSync(file, actual);
  assert.equal(actual, readFileSync(file, 'utf8'), `${name} differs from its golden file (UPDATE_GOLDEN=1 rewrites it)`);
}

const report: CertReport = {
  file: 'certs/orders.pem', moreInFile: 0, kind: 'leaf', selfSigned: false,
  subject: 'CN=orders, O=mesh', issuer: 'CN=mesh root CA (mesh.local), O=mesh', serial: '13d561c1e1823f532b',
  spiffeId: 'spiffe://mesh.local/service/orders',
  sans: { dns: ['orders', 'localhost'], ip: ['127.0.0.1', '::1'], uri: ['spiffe://mesh.local/service/orders'], email: [] },
  notBefore: '2026-11-24T20:35:28.000Z', notAfter: '2026-11-25T20:36:28.000Z', lifetimeSeconds: 86_460, remainingSeconds: 20_000,
  status: 'expiring', key: { type: 'ec', curve: 'P-256' }, signatureAlgorithm: 'ECDSA SHA-256',
  keyUsage: ['digitalSignature'], extKeyUsage: ['serverAuth', 'clientAuth'],
  fingerprintSha256: 'FD:30:0A:43:E6:AC:09:F5:5C:A7:D6:16:B2:26:26:88:E1:17:A7:D8:D8:8A:E0:52:E4:29:C7:66:40:0E:5A:9C',
  warnings: ['less than a third of its lifetime is left (5h33m of 1d0h): rotate it with `mesh certs gen`'],
};

test('inspect table', () => golden('certs-inspect.txt', renderInspectTable(report, { color: false })));
test('inspect JSON is the same value', () => {
  golden('certs-inspect.json', renderJson(report));
  assert.deepEqual(JSON.parse(renderJson(report)), report);
});
test('authz test line', () => {
  const deny = authzTestView('policy.yaml', { from: 'web', to: 'orders', method: 'GET', path: '/x/%2e%2e/admin' }, { allowed: false, rule: 'services.orders.deny[0] "no-admin"', path: '/admin' });
  const allow = authzTestView(null, { from: null, to: 'orders', method: 'GET', path: '/health' }, { allowed: true, rule: 'no policy: allow all', path: null });
  golden('authz-test.txt', renderAuthzTest(deny, { color: false }) + renderAuthzTest(allow, { color: false }));
});
