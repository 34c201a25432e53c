import { test } from 'node:test';
import assert from 'node:assert/strict';
import { chmodSync, mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { assertPrivateKeyFile, readCertificates, parsePrivateKey, writeFilesAtomic } from '../../../src/tls/files.js';
import { tempDir } from '../../helpers/mesh.js';

test('atomic writes set key 0600 and cert 0644 and leave no temp files', (t) => {
  const tmp = tempDir();
  t.after(tmp.cleanup);
  const key = join(tmp.path, 'k.pem');
  const cert = join(tmp.path, 'c.pem');
  writeFileSync(key, 'old key', { mode: 0o644 });
  writeFilesAtomic([{ path: key, data: 'new key', mode: 0o600 }, { path: cert, data: 'cert', mode: 0o644 }]);
  assert.equal(statSync(key).mode & 0o777, 0o600, 'an existing world-readable key file is replaced by a 0600 one');
  assert.equal(statSync(cert).mode & 0o777, 0o644);
  assert.equal(readFileSync(key, 'utf8'), 'new key');
  assert.deepEqual(readdirSync(tmp.path).sort(), ['c.pem', 'k.pem']);
});

test('a failed write leaves the old files and no temp files behind', (t) => {
  const tmp = tempDir();
  t.after(tmp.cleanup);
  const key = join(tmp.path, 'k.pem');
  writeFileSync(key, 'old key', { mode: 0o600 });
  mkdirSync(join(tmp.path, 'isdir'));
  // the second target is a directory: rename fails after both temps were written
  assert.throws(() => writeFilesAtomic([{ path: key, data: 'new', mode: 0o600 }, { path: join(tmp.path, 'nodir', 'x.pem'), data: 'x', mode: 0o644 }]), /cannot write/);
  assert.equal(readFileSync(key, 'utf8'), 'old key');
  assert.deepEqual(readdirSync(tmp.path).sort(), ['isdir', 'k.pem']);
});

test('a CA key readable by group or others is refused with the chmod to run', (t) => {
  const tmp = tempDir();
  t.after(tmp.cleanup);
  const key = join(tmp.path, 'ca-key.pem');
  writeFileSync(key, 'x', { mode: 0o600 });
  assert.doesNotThrow(() => assertPrivateKeyFile(key));
  for (const mode of [0o640, 0o604, 0o644]) {
    chmodSync(key, mode);
    assert.throws(() => assertPrivateKeyFile(key), (err: Error & { code?: string; hint?: string }) =>
      err.code === 'MESH_ERR_TLS' && /readable by group or others/.test(err.message) && err.hint === `run: chmod 600 ${key}`);
  }
});

test('missing, empty and corrupt PEM files are one clear message each', (t) => {
  const tmp = tempDir();
  t.after(tmp.cleanup);
  assert.throws(() => readCertificates(join(tmp.path, 'nope.pem')), /cannot read certificate ".*nope.pem": no such file or directory/);
  const junk = join(tmp.path, 'junk.pem');
  writeFileSync(junk, 'hello');
  assert.throws(() => readCertificates(junk), /holds no PEM certificate/);
  const broken = join(tmp.path, 'broken.pem');
  writeFileSync(broken, '-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n');
  assert.throws(() => readCertificates(broken), /is corrupt/);
  assert.throws(() => parsePrivateKey('-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n', 'k.pem'), /private key "k.pem" is corrupt/);
  assert.throws(() => parsePrivateKey('nothing', 'k.pem'), /holds no PEM private key/);
});
