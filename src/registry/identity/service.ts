// The registry's identity authority: signs leaves for bootstrap-token holders and for renewing workloads,
// manages the tokens, serves the trust bundle, and counts what it issued and refused. One per daemon; with
// the etcd store every daemon has its own issuer (all under one root) and they share the tokens.
import { createHash, type X509Certificate } from 'node:crypto';
import type { Clock } from '../../core/clock.js';
import { isMeshError, MeshError, ValidationError } from '../../core/errors.js';
import { validateServiceName } from '../../core/validate.js';
import { formatServiceId } from '../../tls/spiffe.js';
import { readCsr, type ReadCsr } from './csr.js';
import { FailureLimiter } from './rate-limit.js';
import { verifyPresentedChain, verifyRenewal } from './renewal.js';
import type { LeafSigner, SignedLeaf } from './signer.js';
import type { TokenStore } from './token-store.js';
import { newToken, parseToken, secretMatches, useToken, viewOf, type TokenView } from './tokens.js';

export const DEFAULT_CERT_TTL_MS = 24 * 3_600_000;
export const DEFAULT_TOKEN_TTL_MS = 24 * 3_600_000;

export interface IdentityServiceOptions {
  signer: LeafSigner;
  tokens: TokenStore;
  clock: Clock;
  certTtlMs: number;
  log: (line: string) => void;
  /** Failed token/renewal attempts an address may make per window before it is answered 429. */
  maxFailures?: number;
  failureWindowMs?: number;
}

export interface SignResponse {
  spiffeId: string;
  /** The leaf alone, and the leaf followed by the issuer (what a TLS peer presents). */
  certificate: string;
  chain: string;
  /** The trust bundle to verify peers against. */
  roots: string;
  serial: string;
  notBefore: string;
  notAfter: string;
}

export interface RootsResponse { trustDomain: string; version: string; roots: string }

export class IdentityService {
  readonly counters = { issued: { first: 0, renewal: 0 }, refused: new Map<string, number>() };
  #signer: LeafSigner;
  readonly #limiter: FailureLimiter;
  readonly #rootWaiters = new Set<() => void>();

  constructor(private readonly opts: IdentityServiceOptions) {
    this.#signer = opts.signer;
    this.#limiter = new FailureLimiter({ maxFailures: opts.maxFailures ?? 10, windowMs: opts.failureWindowMs ?? 60_000, clock: opts.clock });
  }

  get trustDomain(): string { return this.#signer.trustDomain; }
  get signer(): LeafSigner { return this.#signer; }

  /** Swaps in a reloaded issuer (a root rotation); roots watchers hear of a changed bundle. */
  replaceSigner(signer: LeafSigner): void {
    const before = this.roots().version;
    this.#signer = signer;
    if (this.roots().version !== before) for (const wake of [...this.#rootWaiters]) wake();
  }

  roots(): RootsResponse {
    const pem = this.#signer.issuer.rootsPem;
    return { trustDomain: this.trustDomain, version: createHash('sha256').update(pem).digest('hex').slice(0, 16), roots: pem };
  }

  /** Resolves the bundle as soon as its version differs from `seen`, or after waitMs with the current one. */
  waitForRoots(seen: string, waitMs: number, closed: Promise<void>): Promise<RootsResponse> {
    if (this.roots().version !== seen) return Promise.resolve(this.roots());
    return new Promise((resolve) => {
      const done = () => { clearTimeout(timer); this.#rootWaiters.delete(done); resolve(this.roots()); };
      const timer = setTimeout(done, waitMs);
      this.#rootWaiters.add(done);
      void closed.then(done);
    });
  }

  /** POST /v1/identity/sign: {csr, token} for a first certificate, {csr, renew: {chain, signature}} to renew. */
  async sign(body: unknown, remote: string, tlsClientChain: X509Certificate[] = []): Promise<SignResponse> {
    try {
      this.#limiter.check(remote);
      return await this.#sign(body, remote, tlsClientChain);
    } catch (err) {
      const code = isMeshError(err) ? err.code : 'MESH_ERR_INTERNAL';
      this.counters.refused.set(code, (this.counters.refused.get(code) ?? 0) + 1);
      throw err;
    }
  }

  async #sign(body: unknown, remote: string, tlsClientChain: X509Certificate[]): Promise<SignResponse> {
    if (typeof body !== 'object' || body === null || Array.isArray(body)) throw new ValidationError('body', 'send a JSON object {"csr": "<PEM>", "token": "<bootstrap token>"} or {"csr", "renew": {...}}');
    const b = body as Record<string, unknown>;
    for (const k of Object.keys(b)) if (k !== 'csr' && k !== 'token' && k !== 'renew') throw new ValidationError(k, `unknown field "${k}"`);
    const mtls = b.token === undefined && b.renew === undefined && tlsClientChain.length > 0;
    if (!mtls && (b.token === undefined) === (b.renew === undefined)) {
      throw new ValidationError('token', 'send exactly one of "token" (first certificate) or "renew" (renewal), or renew over mTLS with the current certificate as the client certificate');
    }
    const csr = await readCsr(b.csr);
    const now = this.opts.clock.now();
    const tokens = this.opts.tokens;
    let service: string;
    let tokenId: string;
    const kind = b.token !== undefined ? 'first' : 'renewal';
    if (kind === 'first') {
      const parsed = parseToken(b.token);
      const record = parsed === null ? undefined : await tokens.get(parsed.id);
      if (parsed === null || record === undefined || !secretMatches(record, parsed.secret)) {
        this.#limiter.fail(remote);
        throw new MeshError('MESH_ERR_TOKEN_INVALID', 'the bootstrap token is not valid for this registry');
      }
      this.#checkRequested(csr, record.service);
      const used = await tokens.update(parsed.id, (cur) => useToken(cur, parsed.secret, now));
      if (used === undefined) throw new MeshError('MESH_ERR_TOKEN_INVALID', 'the bootstrap token is not valid for this registry');
      ({ service, id: tokenId } = used);
    } else {
      let proof;
      try {
        proof = mtls
          ? verifyPresentedChain(tlsClientChain, this.#signer.issuer.roots, this.trustDomain, now)
          : verifyRenewal(b.renew, csr.der, this.#signer.issuer.roots, this.trustDomain, now);
      } catch (err) {
        if (isMeshError(err) && err.code === 'MESH_ERR_UNAUTHORIZED') this.#limiter.fail(remote);
        throw err;
      }
      const record = await tokens.get(proof.tokenId);
      if (record === undefined || record.revokedAt !== null) {
        throw new MeshError('MESH_ERR_TOKEN_REVOKED', `renewal refused: bootstrap token ${proof.tokenId}, which authorised ${proof.spiffeId}, was revoked`);
      }
      this.#checkRequested(csr, proof.service);
      ({ service, tokenId } = proof);
    }
    const leaf: SignedLeaf = await this.#signer.sign({ service, publicKey: csr.publicKey, publicKeyDer: csr.publicKeyDer, tokenId, ttlMs: this.opts.certTtlMs, now });
    this.counters.issued[kind]++;
    this.opts.log(`identity: issued ${leaf.spiffeId} (${kind === 'first' ? 'first certificate' : 'renewal'}, token ${tokenId}, serial ${leaf.serial}, valid until ${leaf.notAfter})`);
    return { spiffeId: leaf.spiffeId, certificate: leaf.certPem, chain: leaf.chainPem, roots: this.#signer.issuer.rootsPem, serial: leaf.serial, notBefore: leaf.notBefore, notAfter: leaf.notAfter };
  }

  /** A CSR may ask for nothing, or for exactly the identity it is entitled to; it never chooses another. */
  #checkRequested(csr: ReadCsr, service: string): void {
    const allowed = formatServiceId(this.trustDomain, service);
    const other = csr.requestedUris.find((u) => u !== allowed);
    if (other !== undefined) throw new MeshError('MESH_ERR_IDENTITY_DENIED', `the CSR asks for ${other}, but this token or certificate authorises only ${allowed}`);
  }

  async createToken(body: unknown): Promise<{ token: string } & TokenView> {
    if (typeof body !== 'object' || body === null || Array.isArray(body)) throw new ValidationError('body', 'send a JSON object {"service", "ttlMs"?, "uses"?}');
    const b = body as Record<string, unknown>;
    for (const k of Object.keys(b)) if (k !== 'service' && k !== 'ttlMs' && k !== 'uses') throw new ValidationError(k, `unknown field "${k}"`);
    const service = validateServiceName(b.service);
    const ttlMs = b.ttlMs ?? DEFAULT_TOKEN_TTL_MS;
    if (typeof ttlMs !== 'number' || !Number.isInteger(ttlMs) || ttlMs < 1000 || ttlMs > 365 * 86_400_000) throw new ValidationError('ttlMs', 'ttlMs must be an integer from 1000 (1 s) to 365 days');
    const uses = b.uses ?? null;
    if (uses !== null && (typeof uses !== 'number' || !Number.isInteger(uses) || uses < 1 || uses > 1_000_000)) throw new ValidationError('uses', 'uses must be an integer from 1 to 1000000, or absent for unlimited');
    const { token, record } = newToken(service, ttlMs, uses as number | null, this.opts.clock.now());
    await this.opts.tokens.create(record);
    this.opts.log(`identity: created bootstrap token ${record.id} for service ${service}`);
    return { token, ...viewOf(record) };
  }

  async listTokens(): Promise<TokenView[]> {
    return (await this.opts.tokens.list()).map(viewOf);
  }

  /** Marks a token revoked (kept, so renewals of what it authorised are refused too). Idempotent. */
  async revokeToken(id: string): Promise<TokenView> {
    const now = this.opts.clock.now();
    const record = await this.opts.tokens.update(id, (cur) => (cur.revokedAt === null ? { ...cur, revokedAt: now } : cur));
    if (record === undefined) throw new MeshError('MESH_ERR_NOT_FOUND', `no bootstrap token "${id}"`, { hint: 'list them with `mesh token list`' });
    this.opts.log(`identity: revoked bootstrap token ${id} (service ${record.service})`);
    return viewOf(record);
  }

  /** Prometheus text for GET /v1/identity/metrics. */
  metricsText(): string {
    const lines = [
      '# HELP mesh_identity_certificates_issued_total Certificates the registry signed, by kind.',
      '# TYPE mesh_identity_certificates_issued_total counter',
      `mesh_identity_certificates_issued_total{kind="first"} ${this.counters.issued.first}`,
      `mesh_identity_certificates_issued_total{kind="renewal"} ${this.counters.issued.renewal}`,
      '# HELP mesh_identity_sign_refusals_total Signing requests refused (nothing issued), by error code.',
      '# TYPE mesh_identity_sign_refusals_total counter',
      ...[...this.counters.refused].sort().map(([code, n]) => `mesh_identity_sign_refusals_total{code="${code}"} ${n}`),
      '# HELP mesh_identity_issuer_expiry_seconds Seconds until this daemon\'s issuer certificate expires.',
      '# TYPE mesh_identity_issuer_expiry_seconds gauge',
      `mesh_identity_issuer_expiry_seconds ${Math.round((new Date(this.#signer.issuer.cert.validTo).getTime() - this.opts.clock.now()) / 1000)}`,
    ];
    return `${lines.join('\n')}\n`;
  }
}
