// `mesh top` shows each proxy's own mTLS identity and the time its certificate has left, from its /stats frames.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { render } from 'ink-testing-library';
import type { StatsFrame } from '../../../src/core/admin-types.js';
import type { StatsHandlers } from '../../../src/metrics/admin-client.js';
import { TopApp } from '../../../src/ui/components/Top.js';
import { identityText } from '../../../src/ui/components/Header.js';
import { eventually } from '../../helpers/mesh.js';

/** An identity whose certificate has `leftMs` left at `at` (pass the same `at` the check uses: a clock read in
 * between let a 1 ms-expired certificate read as "1s left" once). */
const identity = (leftMs: number, at = Date.now()) => ({
  spiffeId: 'spiffe://mesh.local/service/web', trustDomain: 'mesh.local', source: 'registry' as const,
  notBefore: new Date(at - 60_000).toISOString(), notAfter: new Date(at + leftMs).toISOString(),
});

test('the header names the proxy\'s identity and its certificate\'s time left', { timeout: 10_000 }, async (t) => {
  const frame: StatsFrame = { time: Date.now(), windowMs: 10_000, services: [], identity: identity(3_600_000 + 5 * 60_000) };
  const connect = (_url: string, h: StatsHandlers) => { queueMicrotask(() => { h.onOpen?.(); h.onFrame(frame); }); return { close() {} }; };
  const app = render(<TopApp proxies={['a']} connect={connect} tickMs={20} width={120} />);
  t.after(() => app.unmount());
  const out = await eventually(() => { const f = app.lastFrame() ?? ''; return /as spiffe/.test(f) ? f : ''; }, 3000, 10);
  assert.match(out, /● a connected {2}as spiffe:\/\/mesh\.local\/service\/web, cert 1h0[45]m left/);
});

test('identityText: seconds, minutes, expired', () => {
  const now = Date.now();
  assert.match(identityText(identity(45_000, now), now), /cert 45s left$/);
  assert.match(identityText(identity(-1, now), now), /cert EXPIRED$/);
  assert.match(identityText(identity(0, now), now), /cert EXPIRED$/);
});
