// How a refused registry certificate is reported: its own code and the fix for each kind of refusal, found
// through undici's error causes; anything else is left to the "unreachable" path.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { untrustedRegistryError } from '../../../src/registry/tls-trust.js';

const err = (code: string, message = code, cause?: Error) => Object.assign(new Error(message), { code, ...(cause ? { cause } : {}) });
const URL = 'https://registry.internal:8500';

test('an untrusted chain names --ca / MESH_CA, and which CA file did not sign it', () => {
  const none = untrustedRegistryError(err('UND_ERR_CONNECT', 'connect failed', err('SELF_SIGNED_CERT_IN_CHAIN')), URL, undefined)!;
  assert.equal(none.code, 'MESH_ERR_REGISTRY_UNTRUSTED');
  assert.equal(none.message, `the registry's certificate at ${URL} is not trusted (SELF_SIGNED_CERT_IN_CHAIN, and no --ca was given)`);
  assert.match(none.hint, /^pass --ca <file> or set MESH_CA/);
  const wrong = untrustedRegistryError(err('UNABLE_TO_VERIFY_LEAF_SIGNATURE'), URL, '/etc/mesh/other.pem')!;
  assert.equal(wrong.message, `the registry's certificate at ${URL} is not trusted (UNABLE_TO_VERIFY_LEAF_SIGNATURE: not issued by the CA in /etc/mesh/other.pem)`);
});

test('an expired certificate or one for another host gets the same code with its own fix', () => {
  const expired = untrustedRegistryError(err('CERT_HAS_EXPIRED', 'certificate has expired'), URL, '/ca.pem')!;
  assert.equal(expired.code, 'MESH_ERR_REGISTRY_UNTRUSTED');
  assert.match(expired.message, /not trusted \(CERT_HAS_EXPIRED: certificate has expired\)$/);
  assert.match(expired.hint, /reissue the registry's certificate/);
  const host = untrustedRegistryError(err('ERR_TLS_CERT_ALTNAME_INVALID', "Hostname/IP does not match certificate's altnames"), URL, '/ca.pem')!;
  assert.match(host.hint, /--dns <name> --ip <address>/);
});

test('network failures are not trust failures', () => {
  for (const code of ['ECONNREFUSED', 'UND_ERR_CONNECT_TIMEOUT', 'ECONNRESET']) assert.equal(untrustedRegistryError(err(code), URL, undefined), undefined, code);
  assert.equal(untrustedRegistryError('not an error', URL, undefined), undefined);
});
