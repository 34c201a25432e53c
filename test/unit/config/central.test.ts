// The central config's pure parts: validation with the proxy's and sidecar's own validators (field paths),
// apply/delete semantics, the per-field overlay of a local file, and the per-entry diff.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { applyProxyDocument, deleteService, diffCentral, overlayProxyDocuments, validateCentral, EMPTY_CENTRAL } from '../../../src/config/central.js';
import { ValidationError } from '../../../src/core/errors.js';

function fieldOf(fn: () => unknown): string {
  try { fn(); } catch (err) { assert.ok(err instanceof ValidationError, String(err)); return err.field; }
  assert.fail('expected a ValidationError');
}

test('validateCentral refuses what the proxy and the sidecar refuse, naming the field', () => {
  assert.equal(fieldOf(() => validateCentral({ proxy: { services: { web: { timeout: 'soon' } } } })), 'proxy.services.web.timeout');
  assert.equal(fieldOf(() => validateCentral({ proxy: { services: { web: { retires: 2 } } } })), 'proxy.services.web.retires');
  assert.equal(fieldOf(() => validateCentral({ proxy: { services: { web: { retries: '2' } } } })), 'proxy.services.web.retries');
  assert.equal(fieldOf(() => validateCentral({ proxy: { services: { web: { routes: [{ split: [{ tags: { v: '1' }, weight: 0 }] }] } } } })), 'proxy.services.web.routes[0].split');
  assert.equal(fieldOf(() => validateCentral({ authz: { services: { db: { allow: [{ from: 'Bad Name' }] } } } })), 'authz.services.db.allow[0].from[0]');
  assert.equal(fieldOf(() => validateCentral({ nope: [] })), 'nope');
  assert.equal(fieldOf(() => validateCentral({ faults: [{ id: 'f1', service: 'web', action: { abort: 700 }, percent: 10, createdAt: 0, expiresAt: 1 }] })), 'abort');
  assert.equal(fieldOf(() => validateCentral({ proxy: { services: Object.fromEntries(Array.from({ length: 3000 }, (_, i) => [`s${i}`, { hashHeader: 'x'.repeat(80) }])) } })), '(top level)');
  assert.deepEqual(validateCentral({ proxy: { services: { web: { retries: 1 } } } }), { proxy: { services: { web: { retries: 1 } } }, authz: null });
});

test('apply replaces the named entries whole and keeps the others; delete drops one', () => {
  const cur = { defaults: { retries: 1 }, services: { web: { retries: 3, timeout: '2s' }, api: { retries: 0 } } };
  const next = applyProxyDocument(cur, { services: { web: { timeout: '5s' } } });
  assert.deepEqual(next, { defaults: { retries: 1 }, services: { api: { retries: 0 }, web: { timeout: '5s' } } });
  assert.deepEqual(deleteService(next, 'web'), { defaults: { retries: 1 }, services: { api: { retries: 0 } } });
  assert.deepEqual(deleteService({ services: { web: {} } }, 'web'), {});
});

test('a local file overrides central fields one by one, and says where each came from', () => {
  const { doc, sources } = overlayProxyDocuments(
    { defaults: { retries: 1 }, services: { web: { retries: 3, timeout: '2s' } } },
    { services: { web: { timeout: '9s' }, api: { policy: 'random' } } },
  );
  assert.deepEqual(doc, { defaults: { retries: 1 }, services: { api: { policy: 'random' }, web: { retries: 3, timeout: '9s' } } });
  assert.deepEqual(sources, { defaults: { retries: 'central' }, 'services.api': { policy: 'file' }, 'services.web': { retries: 'central', timeout: 'file' } });
});

test('diffCentral lists changed entries field by field', () => {
  const a = { proxy: { services: { web: { retries: 3, outlier: { consecutiveFailures: 5 } } } }, authz: null };
  const b = { proxy: { services: { web: { retries: 1, outlier: { consecutiveFailures: 5 } }, api: { retries: 0 } } }, authz: { services: {} } };
  assert.deepEqual(diffCentral(a, b), [
    { entry: 'services.api', change: 'added', fields: [{ field: 'retries', to: 0 }] },
    { entry: 'services.web', change: 'changed', fields: [{ field: 'retries', from: 3, to: 1 }] },
    { entry: 'authz', change: 'added', fields: [{ field: 'services', to: {} }] },
  ]);
  assert.deepEqual(diffCentral(b, b), []);
  assert.deepEqual(diffCentral(EMPTY_CENTRAL, EMPTY_CENTRAL), []);
});
