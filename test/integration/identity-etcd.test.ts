// The identity API on the etcd store: two real daemons on one real etcd, each signing with its own issuer under
// one root. Tokens are shared through etcd (hashes only), a single-use token is spent once across both, and a
// certificate issued by one daemon renews at the other.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { ETCD_SKIP, startEtcd, startEtcdRegistry, type EtcdProcess } from '../helpers/etcd.js';
import { tempDir } from '../helpers/mesh.js';
import { createToken, leafOf, makePki, newWorkload, opensslVerify, renewalProof, signRaw } from '../helpers/identity.js';
import { writeFileSync } from 'node:fs';

let etcd: EtcdProcess | undefined;
before(async () => { if (!ETCD_SKIP) etcd = await startEtcd(); });
after(async () => { await etcd?.destroy(); });

test('etcd store, two daemons each with its own issuer: shared tokens, one use spent once, renewal across daemons', { skip: ETCD_SKIP, timeout: 90_000 }, async (t) => {
  const dir = tempDir('mesh-identity-etcd-');
  t.after(dir.cleanup);
  const pki = await makePki(dir.path, ['issuer-a', 'issuer-b']);
  const a = await startEtcdRegistry(t, etcd!.url, '/idt', ['--issuer', pki.issuers[0]!]);
  const b = await startEtcdRegistry(t, etcd!.url, '/idt', ['--issuer', pki.issuers[1]!]);
  const token = await createToken(a.url, 'web', ['--uses', '1']);
  // Spent through B, refused through A: the use was recorded in etcd.
  const w1 = await newWorkload();
  const viaB = await signRaw(b.url, { csr: w1.csrPem, token });
  assert.equal(viaB.status, 200, JSON.stringify(viaB.body));
  const replay = await signRaw(a.url, { csr: (await newWorkload()).csrPem, token });
  assert.equal(replay.status, 403);
  assert.equal(replay.body.error!.code, 'MESH_ERR_TOKEN_USED_UP');
  // B's leaf chains through B's issuer; renewing at A gives a leaf through A's issuer; both verify against the root.
  const w2 = await newWorkload();
  const renewed = await signRaw(a.url, { csr: w2.csrPem, renew: renewalProof({ chain: viaB.body.chain!, keyPem: w1.keyPem }, w2) });
  assert.equal(renewed.status, 200, JSON.stringify(renewed.body));
  assert.notEqual(leafOf(viaB.body.chain!).issuer, leafOf(renewed.body.chain!).issuer, 'each daemon signs with its own issuer');
  const roots = join(dir.path, 'roots.pem');
  writeFileSync(roots, renewed.body.roots!);
  assert.equal(opensslVerify(dir.path, viaB.body.chain!, roots)[0], 0);
  assert.equal(opensslVerify(dir.path, renewed.body.chain!, roots)[0], 0);
  // Revoked through B: A refuses the next renewal.
  const id = token.split('.')[0]!;
  assert.equal((await b.client.revokeToken(id)).token.revokedAt !== null, true);
  const w3 = await newWorkload();
  const refused = await signRaw(a.url, { csr: w3.csrPem, renew: renewalProof({ chain: renewed.body.chain!, keyPem: w2.keyPem }, w3) });
  assert.equal(refused.status, 403);
  assert.equal(refused.body.error!.code, 'MESH_ERR_TOKEN_REVOKED');
  const listed = (await a.client.listTokens()).tokens;
  assert.deepEqual(listed.map((x) => [x.id, x.service, x.uses]), [[id, 'web', 1]]);
});
