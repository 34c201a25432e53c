// A workload identity from the registry: the key pair is generated in memory (it never touches disk), the
// first certificate is bought with a bootstrap token (MESH_IDENTITY_TOKEN), and each later one with a renewal
// proof signed by the current key, at a jittered 50–70% of the lifetime. Each new certificate replaces the
// TLS material the way a rotated file does (servers get the new context for new handshakes, client pools are
// rebuilt), and the trust bundle is followed with a blocking watch on /v1/identity/roots.
//
// When the registry cannot be reached at renewal time, the current certificate keeps serving and renewal is
// retried with backoff; once it has expired a renewal proof is worthless, so the token (if one was given and
// still has uses) is tried instead. Every failure is logged and counted; the expiry is a metric.
import { createPrivateKey, sign } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Server } from 'node:tls';
import { Counter, Gauge, type Registry } from 'prom-client';
import { systemClock, systemRandom, type Clock, type Random } from '../../core/clock.js';
import { MeshError } from '../../core/errors.js';
import type { RegistryClient } from '../../registry/client.js';
import type { SignResponse } from '../../registry/identity/service.js';
import { chainRoot } from '../../tls/chain.js';
import { secureContextOptions, type TlsMaterial, type TlsSource } from '../../tls/context.js';
import { TlsSubscribers } from '../../tls/subscribers.js';
import { parseCertificates } from '../../tls/files.js';
import { checkIdentity } from '../../tls/peer-identity.js';
import { formatServiceId, trustDomainOfCa } from '../../tls/spiffe.js';
import { generateP256, privateKeyPem, x509 } from '../../tls/x509-sign.js';
import { renewalTime, retryDelay } from './schedule.js';

export interface RegistryIdentityOptions {
  client: RegistryClient;
  /** The service this workload is; the issued identity must be it (checked, not requested). */
  service?: string;
  /** The bootstrap token (MESH_IDENTITY_TOKEN), for the first certificate and after an expiry. */
  token?: string;
  log: (line: string) => void;
  clock?: Clock;
  random?: Random;
  /** How long one roots watch call blocks (ms). */
  rootsWaitMs?: number;
  /** Ends the wait for a first certificate while the registry is away (SIGTERM during start-up). */
  signal?: AbortSignal;
}

/** The first certificate's retry: 0.25 s doubling to 10 s (jittered); logged for the first tries, then every 6th. */
const FIRST_DELAY_MS = 250;
const FIRST_MAX_DELAY_MS = 10_000;
const FIRST_LOG_EVERY = 6;

export class RegistryIdentity implements TlsSource {
  #material!: TlsMaterial;
  readonly #subscribers = new TlsSubscribers<TlsMaterial>(secureContextOptions);
  readonly #clock: Clock;
  readonly #random: Random;
  #timer: NodeJS.Timeout | undefined;
  #closed = false;
  #attempt = 0;
  #expiredLogged = false;
  #rootsVersion = '';
  /** Renewals that failed (the registry unreachable or refusing). */
  failures = 0;
  renewals = 0;

  private constructor(private readonly opts: RegistryIdentityOptions) {
    this.#clock = opts.clock ?? systemClock;
    this.#random = opts.random ?? systemRandom;
  }

  /** Gets the first certificate (or fails with the registry's error) and starts renewing and following roots. */
  static async start(opts: RegistryIdentityOptions): Promise<RegistryIdentity> {
    if (opts.token === undefined) {
      throw new MeshError('MESH_ERR_USAGE', '--identity registry needs a bootstrap token for the first certificate: set MESH_IDENTITY_TOKEN', { hint: 'create one with `mesh token create --service <name>`' });
    }
    const identity = new RegistryIdentity(opts);
    identity.#install(await identity.#fetchFirst());
    identity.#scheduleRenewal();
    void identity.#followRoots();
    return identity;
  }

  get material(): TlsMaterial { return this.#material; }

  /** Seconds until the current certificate expires (negative once it has). */
  expirySeconds(): number {
    return (this.#material.notAfter.getTime() - this.#clock.now()) / 1000;
  }

  attachServer(server: Server): void { this.#subscribers.attachServer(server); }
  onReload(listener: (m: TlsMaterial) => void): () => void { return this.#subscribers.onReload(listener); }

  /** Adds mesh_identity_cert_expiry_seconds and mesh_identity_renewal_failures_total to a Prometheus registry. */
  registerMetrics(registry: Registry): void {
    const self = this;
    new Gauge({ name: 'mesh_identity_cert_expiry_seconds', help: 'Seconds until this workload\'s registry-issued certificate expires.', registers: [registry], collect() { this.set(self.expirySeconds()); } });
    new Counter({ name: 'mesh_identity_renewal_failures_total', help: 'Certificate renewals that failed (registry unreachable or refusing); each is retried with backoff.', registers: [registry], collect() { this.reset(); this.inc(self.failures); } });
  }

  close(): void {
    this.#closed = true;
    clearTimeout(this.#timer);
    this.#subscribers.clear();
  }

  /**
   * The first certificate. A registry that is away (not started yet after a host reboot, restarting, its store
   * unreachable) is waited for with backoff, as linkerd2-proxy waits for its identity service: a sidecar must not
   * die because it came up first. A refusal (bad or revoked token, another service, an untrusted registry
   * certificate) is a configuration error and fails at once.
   */
  async #fetchFirst(): Promise<TlsMaterial> {
    for (let attempt = 0; ; attempt++) {
      try {
        return await this.#fetch();
      } catch (err) {
        if (!isTransient(err) || this.opts.signal?.aborted) throw err;
        const delay = Math.min(FIRST_MAX_DELAY_MS, FIRST_DELAY_MS * 2 ** Math.min(attempt, 6)) * (0.8 + 0.4 * this.#random());
        // Every try at first, then about once a minute: a registry down for hours must not fill the log.
        if (attempt < 5 || attempt % FIRST_LOG_EVERY === 0) {
          this.opts.log(`mesh proxy: identity: no certificate yet (${(err as Error).message}); retrying in ${(delay / 1000).toFixed(1)} s`);
        }
        // node's abortable timer: SIGTERM during start-up ends the wait (it rejects; the caller sees the abort).
        await sleep(delay, undefined, this.opts.signal === undefined ? {} : { signal: this.opts.signal }).catch(() => {});
        if (this.opts.signal?.aborted) throw err;
      }
    }
  }

  /** One signing round trip: a new key and CSR, authorised by the current certificate or by the token. */
  async #fetch(): Promise<TlsMaterial> {
    const keys = await generateP256();
    const keyPem = await privateKeyPem(keys.privateKey);
    const csr = await x509.Pkcs10CertificateRequestGenerator.create({
      name: `CN=${this.opts.service ?? 'mesh-workload'}`, keys, signingAlgorithm: { name: 'ECDSA', hash: 'SHA-256' },
    });
    const csrPem = csr.toString('pem');
    const current = this.#material as TlsMaterial | undefined;
    const renewable = current !== undefined && current.notAfter.getTime() > this.#clock.now();
    const body = renewable
      ? { csr: csrPem, renew: { chain: current.certPem, signature: sign('sha256', Buffer.from(csr.rawData), current.key).toString('base64') } }
      : { csr: csrPem, token: this.opts.token! };
    return this.#materialOf(await this.opts.client.signCertificate(body), keyPem);
  }

  #materialOf(res: SignResponse, keyPem: string): TlsMaterial {
    const chain = parseCertificates(res.chain, 'the certificate chain the registry issued');
    const roots = parseCertificates(res.roots, 'the trust bundle the registry sent');
    const leaf = chain[0]!;
    const key = createPrivateKey(keyPem);
    const root = chainRoot(chain, roots);
    if (!leaf.checkPrivateKey(key) || root === undefined) {
      throw new MeshError('MESH_ERR_TLS', 'the registry answered with a certificate that does not match our key or does not chain to its trust bundle');
    }
    // The same rules as for a certificate from files (peer-identity.ts): an end-entity certificate with one SPIFFE
    // ID in the trust domain its root names, fit to serve callers and to call servers.
    const verdict = checkIdentity(leaf.raw, { trustDomain: trustDomainOfCa(root) ?? undefined, roles: ['server', 'client'] });
    if (!verdict.ok) throw new MeshError('MESH_ERR_TLS', `the registry issued a certificate that is not a usable mesh identity: ${verdict.reason}`);
    const spiffeId = verdict.id;
    const want = this.#material?.spiffeId ?? (this.opts.service === undefined ? null : formatServiceId(verdict.trustDomain, this.opts.service));
    if (want !== null && spiffeId !== want) {
      throw new MeshError('MESH_ERR_IDENTITY_DENIED', `the registry issued ${spiffeId}, but this proxy is ${want}`, { hint: 'use a bootstrap token created for this service' });
    }
    return { certPem: res.chain, keyPem, caPem: res.roots, leaf, key, spiffeId, trustDomain: verdict.trustDomain, notAfter: new Date(leaf.validTo), warnings: [] };
  }

  #install(m: TlsMaterial): void {
    this.#material = m;
    this.#subscribers.publish(m);
  }

  #scheduleRenewal(): void {
    const now = this.#clock.now();
    const at = renewalTime(now, this.#material.notAfter.getTime(), this.#random);
    this.#arm(at - now);
  }

  #arm(delayMs: number): void {
    if (this.#closed) return;
    clearTimeout(this.#timer);
    this.#timer = setTimeout(() => { void this.#renew(); }, Math.max(0, delayMs));
    this.#timer.unref();
  }

  async #renew(): Promise<void> {
    try {
      const next = await this.#fetch();
      if (this.#closed) return;
      const recovered = this.#expiredLogged;
      this.#install(next);
      this.renewals++;
      this.#attempt = 0;
      this.#expiredLogged = false;
      this.opts.log(`mesh proxy: identity: ${recovered ? 'recovered with a new' : 'renewed the'} certificate for ${next.spiffeId} (valid until ${next.notAfter.toISOString()})`);
      this.#scheduleRenewal();
    } catch (err) {
      if (this.#closed) return;
      this.failures++;
      const now = this.#clock.now();
      const notAfter = this.#material.notAfter.getTime();
      const delay = retryDelay(this.#attempt++, now, notAfter, this.#random);
      const why = err instanceof Error ? err.message : String(err);
      if (now >= notAfter) {
        if (!this.#expiredLogged) {
          this.#expiredLogged = true;
          // Clients rebuild their pools, so no request keeps riding a session set up before the expiry: new
          // handshakes fail with the certificate error instead of traffic continuing on an expired identity.
          this.#subscribers.publish(this.#material, false);
          this.opts.log(`mesh proxy: identity: the certificate for ${this.#material.spiffeId} EXPIRED at ${new Date(notAfter).toISOString()}; mTLS peers now refuse it. Still trying to get a new one (${why})`);
        }
      } else {
        this.opts.log(`mesh proxy: identity: renewal failed (${why}); keeping the current certificate (valid ${Math.round((notAfter - now) / 1000)} s more), retrying in ${(delay / 1000).toFixed(1)} s`);
      }
      this.#arm(delay);
    }
  }

  /** Follows the trust bundle: a root added or removed reaches this proxy without waiting for a renewal. */
  async #followRoots(): Promise<void> {
    this.#rootsVersion = '';
    let backoff = 1000;
    while (!this.#closed) {
      try {
        const r = await this.opts.client.identityRoots({ version: this.#rootsVersion, waitMs: this.opts.rootsWaitMs ?? 30_000 });
        backoff = 1000;
        if (this.#closed) return;
        if (r.version !== this.#rootsVersion) {
          const changed = this.#rootsVersion !== '' && r.roots !== this.#material.caPem;
          this.#rootsVersion = r.version;
          if (changed) {
            this.#install({ ...this.#material, caPem: r.roots });
            this.opts.log(`mesh proxy: identity: trust bundle changed (${parseCertificates(r.roots, 'the trust bundle').length} roots)`);
          }
        }
      } catch {
        if (this.#closed) return;
        await new Promise<void>((resolve) => setTimeout(resolve, backoff).unref());
        backoff = Math.min(backoff * 2, 30_000);
      }
    }
  }
}

/**
 * Worth waiting out: the registry unreachable, read-only (its store away), without a signer yet, rate limiting,
 * or failing inside (5xx from the API). Not: an untrusted registry certificate, a refused token, a certificate
 * that is not ours — waiting would not change those.
 */
const TRANSIENT = new Set(['MESH_ERR_REGISTRY_UNREACHABLE', 'MESH_ERR_REGISTRY_READ_ONLY', 'MESH_ERR_IDENTITY_UNAVAILABLE', 'MESH_ERR_RATE_LIMITED', 'MESH_ERR_ETCD_UNAVAILABLE', 'MESH_ERR_INTERNAL']);
function isTransient(err: unknown): boolean {
  return TRANSIENT.has((err as { code?: string })?.code ?? '');
}
