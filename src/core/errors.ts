// One base error with a stable `code`; callers match on `code`, never on the message.
// Every code here is documented in man/mesh.1 (a test checks that).

export const ErrorCodes = {
  MESH_ERR_USAGE: { status: 400, hint: 'run the command with --help to see its usage' },
  MESH_ERR_INVALID_ARGUMENT: { status: 400, hint: 'check the value against the documented format' },
  MESH_ERR_INVALID_JSON: { status: 400, hint: 'send a well-formed JSON object' },
  MESH_ERR_BODY_TOO_LARGE: { status: 413, hint: 'request bodies are limited to 1 MiB' },
  MESH_ERR_NOT_FOUND: { status: 404, hint: 'list what exists with `mesh services`' },
  MESH_ERR_METHOD_NOT_ALLOWED: { status: 405, hint: 'see the API reference in man mesh' },
  MESH_ERR_UNAUTHORIZED: { status: 401, hint: 'pass --token or set MESH_TOKEN' },
  MESH_ERR_FORBIDDEN: { status: 403, hint: 'the authorization policy does not allow this call' },
  MESH_ERR_REGISTRY_UNREACHABLE: { status: 503, hint: 'start it with `mesh registry start` or pass --registry' },
  MESH_ERR_REGISTRY_UNTRUSTED: { status: 502, hint: 'pass --ca <file> or set MESH_CA to the CA certificate that signed the registry\'s certificate' },
  MESH_ERR_REGISTRY_READ_ONLY: { status: 503, hint: 'the backing store is unreachable; writes resume when it returns' },
  MESH_ERR_STORE_LOCKED: { status: 500, hint: 'another daemon uses this data dir; stop it or pass --data-dir' },
  MESH_ERR_STORE_IO: { status: 500, hint: 'check that the data dir is writable and the disk is not full' },
  MESH_ERR_STORE_CORRUPT: { status: 500, hint: 'run `mesh registry repair --data-dir DIR`: it keeps a backup and salvages every readable record' },
  MESH_ERR_LISTEN: { status: 500, hint: 'pass another --listen address or stop the process that holds it' },
  MESH_ERR_PROXY_UNREACHABLE: { status: 503, hint: 'start it with `mesh proxy start` or pass --proxy' },
  MESH_ERR_NO_SUCH_SERVICE: { status: 503, hint: 'register the service with `mesh register`' },
  MESH_ERR_NO_HEALTHY_ENDPOINT: { status: 503, hint: 'check instance health with `mesh services <service>`' },
  MESH_ERR_CIRCUIT_OPEN: { status: 503, hint: 'the service is at its concurrency limit; raise maxConcurrent or add instances' },
  MESH_ERR_UPSTREAM_TIMEOUT: { status: 504, hint: 'the upstream did not answer in time; raise the timeout or fix the instance' },
  MESH_ERR_UPSTREAM_CONNECT: { status: 502, hint: 'the upstream refused or reset the connection' },
  MESH_ERR_UPSTREAM_IDENTITY: { status: 502, hint: 'the endpoint\'s mesh TLS port presented a certificate that is not the service\'s mesh identity; check what listens there and its certificate with `mesh certs inspect`' },
  MESH_ERR_BAD_REQUEST: { status: 400, hint: 'the request is malformed' },
  MESH_ERR_PROTOCOL_UNSUPPORTED: { status: 502, hint: 'HTTP/2 and gRPC reach plaintext (h2c) endpoints only; call mTLS endpoints over HTTP/1.1' },
  MESH_ERR_CONFIG_INVALID: { status: 400, hint: 'fix the file; the previous configuration stays in force' },
  MESH_ERR_DEFINED_IN_FILE: { status: 409, hint: 'edit or remove the file in the registry\'s --services-dir; the registry reloads it' },
  MESH_ERR_TLS: { status: 500, hint: 'check the certificate, key and CA files with `mesh certs inspect`' },
  MESH_ERR_CA_EXISTS: { status: 409, hint: 'pass --force to replace the existing CA' },
  MESH_ERR_ETCD_UNAVAILABLE: { status: 503, hint: 'check --etcd-endpoints and that etcd is running' },
  MESH_ERR_CHILD_FAILED: { status: 500, hint: 'the command given to `mesh run` could not be started' },
  MESH_ERR_FAULT_INJECTED: { status: 503, hint: 'a fault injected with `mesh fault inject`; `mesh fault list` shows it and its expiry' },
  // -- identity (registry-issued certificates) --
  MESH_ERR_TOKEN_INVALID: { status: 401, hint: 'check MESH_IDENTITY_TOKEN, or create a token with `mesh token create --service <name>`' },
  MESH_ERR_TOKEN_REVOKED: { status: 403, hint: 'the token was revoked; create a new one with `mesh token create`' },
  MESH_ERR_TOKEN_USED_UP: { status: 403, hint: 'the token has no uses left; create a new one with `mesh token create`' },
  MESH_ERR_CSR_INVALID: { status: 400, hint: 'send a PKCS#10 CSR (PEM) signed by an EC P-256/P-384 or RSA 2048+ key' },
  MESH_ERR_IDENTITY_DENIED: { status: 403, hint: 'a token or certificate authorises exactly one service; ask for that one' },
  MESH_ERR_IDENTITY_UNAVAILABLE: { status: 503, hint: 'start the registry with --issuer <dir> (from `mesh certs ca issuer`)' },
  MESH_ERR_RATE_LIMITED: { status: 429, hint: 'too many failed attempts from this address; wait and try again' },
  MESH_ERR_INTERNAL: { status: 500, hint: 'this is a bug; run with --debug and report it' },
} as const;

export type ErrorCode = keyof typeof ErrorCodes;

export class MeshError extends Error {
  readonly code: ErrorCode;
  readonly hint: string;
  readonly status: number;

  constructor(code: ErrorCode, message: string, options?: { hint?: string; cause?: unknown; status?: number }) {
    super(message, options?.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'MeshError';
    this.code = code;
    this.hint = options?.hint ?? ErrorCodes[code].hint;
    this.status = options?.status ?? ErrorCodes[code].status;
  }

  /** The API's error body: `{"error": {"code", "message"}}`. */
  toJSON(): { error: { code: ErrorCode; message: string; hint: string } } {
    return { error: { code: this.code, message: this.message, hint: this.hint } };
  }
}

/** A bad flag or argument: the CLI prints it and exits 2. */
export class UsageError extends MeshError {
  constructor(message: string, hint?: string) {
    super('MESH_ERR_USAGE', message, hint === undefined ? undefined : { hint });
    this.name = 'UsageError';
  }
}

/** A value that fails validation; in the CLI it is a usage error (exit 2), in the API a 400. */
export class ValidationError extends MeshError {
  readonly field: string;
  constructor(field: string, message: string) {
    super('MESH_ERR_INVALID_ARGUMENT', message);
    this.name = 'ValidationError';
    this.field = field;
  }
}

export function isMeshError(err: unknown): err is MeshError {
  return err instanceof MeshError;
}
