// Why an https registry could not be reached when the answer is "its certificate": that is a trust problem the
// user fixes with --ca / MESH_CA (or a reissued certificate), not a registry that is down, so it gets its own
// code (MESH_ERR_REGISTRY_UNTRUSTED) and says which.
import { MeshError } from '../core/errors.js';

/** OpenSSL's verdicts (passed through by node:tls) meaning the chain does not lead to a CA we were told to trust. */
const NOT_TRUSTED = new Set([
  'UNABLE_TO_VERIFY_LEAF_SIGNATURE', 'UNABLE_TO_GET_ISSUER_CERT', 'UNABLE_TO_GET_ISSUER_CERT_LOCALLY', 'SELF_SIGNED_CERT_IN_CHAIN',
  'DEPTH_ZERO_SELF_SIGNED_CERT', 'CERT_SIGNATURE_FAILURE', 'CERT_UNTRUSTED', 'CERT_REJECTED', 'INVALID_CA', 'INVALID_PURPOSE',
]);
const OUT_OF_DATE = new Set(['CERT_HAS_EXPIRED', 'CERT_NOT_YET_VALID']);
const WRONG_NAME = 'ERR_TLS_CERT_ALTNAME_INVALID';

/** The MESH_ERR_REGISTRY_UNTRUSTED error for a refused registry certificate; undefined for any other failure. */
export function untrustedRegistryError(err: unknown, url: string, caFile: string | undefined): MeshError | undefined {
  for (let e: unknown = err; e instanceof Error; e = e.cause === e ? undefined : e.cause) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === undefined) continue;
    if (NOT_TRUSTED.has(code)) {
      return new MeshError('MESH_ERR_REGISTRY_UNTRUSTED', `the registry's certificate at ${url} is not trusted (${code}${caFile === undefined ? ', and no --ca was given' : `: not issued by the CA in ${caFile}`})`, {
        hint: caFile === undefined ? 'pass --ca <file> or set MESH_CA to the CA certificate that signed it, e.g. mesh-ca/ca.pem' : 'pass --ca <file> or set MESH_CA to the CA certificate that signed the registry\'s certificate',
        cause: err,
      });
    }
    if (OUT_OF_DATE.has(code)) {
      return new MeshError('MESH_ERR_REGISTRY_UNTRUSTED', `the registry's certificate at ${url} is not trusted (${code}: ${(e as Error).message})`, {
        hint: 'reissue the registry\'s certificate with `mesh certs gen registry` and restart the registry', cause: err,
      });
    }
    if (code === WRONG_NAME) {
      return new MeshError('MESH_ERR_REGISTRY_UNTRUSTED', `the registry's certificate at ${url} is not trusted (${code}: ${(e as Error).message})`, {
        hint: 'use a host name or address the certificate lists, or reissue it with `mesh certs gen registry --dns <name> --ip <address>`', cause: err,
      });
    }
  }
  return undefined;
}
