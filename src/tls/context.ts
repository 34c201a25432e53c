// TLS options for mesh sidecars and clients, built from cert/key/CA files, and a context that reloads itself
// when the files change: servers get server.setSecureContext (existing connections keep their old context, new
// handshakes use the new one); clients ask for the current options on each new connection.
import { X509Certificate, type KeyObject } from 'node:crypto';
import { createSecureContext, type ConnectionOptions, type SecureContext, type SecureContextOptions, type Server, type TlsOptions } from 'node:tls';
import { MeshError } from '../core/errors.js';
import { watchFiles, type FileWatch, type FileWatchOptions } from '../core/file-watch.js';
import { isReadableByOthers, parsePrivateKey, readCertificates, readTextFile } from './files.js';
import { checkIdentity, serverIdentityCheck, type IdentityRole } from './peer-identity.js';
import { trustDomainOfCa } from './spiffe.js';
import { chainRoot } from './chain.js';
import { TlsSubscribers } from './subscribers.js';

export interface TlsFilePaths { cert: string; key: string; ca: string }

export interface TlsMaterial {
  /** The files it was read from; absent for material held only in memory (a registry-issued identity). */
  paths?: TlsFilePaths;
  certPem: string;
  keyPem: string;
  caPem: string;
  leaf: X509Certificate;
  key: KeyObject;
  /** The identity this certificate carries. */
  spiffeId: string;
  /** The mesh's trust domain: this certificate's, which its CA names (when the CA names one). */
  trustDomain: string;
  notAfter: Date;
  warnings: string[];
}

export interface LoadTlsOptions {
  /** The identity the certificate must carry (a rotation must keep it). */
  expectSpiffeId?: string;
  /** What the certificate is used for (its extKeyUsage must allow each); default both. */
  roles?: readonly IdentityRole[];
  now?: number;
}

/**
 * Loads and cross-checks a cert/key/CA triple: each file parses, the key matches the certificate, the
 * certificate was issued by (one of) the CA certificates and is inside its validity window, and it is a mesh
 * identity (peer-identity.ts: an end-entity certificate with one SPIFFE ID in its CA's trust domain, fitting
 * key usages) — when given, exactly `expectSpiffeId`. Anything else is one MESH_ERR_TLS line naming the file.
 */
export function loadTlsMaterial(paths: TlsFilePaths, opts: LoadTlsOptions = {}): TlsMaterial {
  const now = opts.now ?? Date.now();
  const certPem = readTextFile(paths.cert, 'certificate');
  const chain = readCertificates(paths.cert, 'certificate');
  const keyPem = readTextFile(paths.key, 'private key');
  const key = parsePrivateKey(keyPem, paths.key);
  const caPem = readTextFile(paths.ca, 'CA certificate');
  const cas = readCertificates(paths.ca, 'CA certificate');
  const leaf = chain[0]!;
  if (!leaf.checkPrivateKey(key)) throw new MeshError('MESH_ERR_TLS', `private key "${paths.key}" does not match certificate "${paths.cert}"`);
  // The file may hold the leaf alone (`mesh certs gen`) or leaf + issuer (a registry-issued chain). Either way the
  // CA that anchors it names the trust domain: the root, which named the issuer's trust domain when it signed it.
  const issuer = cas.find((ca) => ca.ca && leaf.checkIssued(ca) && leaf.verify(ca.publicKey)) ?? (chain.length > 1 ? chainRoot(chain, cas) : undefined);
  if (issuer === undefined) {
    throw new MeshError('MESH_ERR_TLS', `certificate "${paths.cert}" was not issued by the CA in "${paths.ca}"`, { hint: 'issue it with `mesh certs gen --ca-dir <the CA dir>`' });
  }
  const notBefore = new Date(leaf.validFrom);
  const notAfter = new Date(leaf.validTo);
  if (now >= notAfter.getTime()) throw new MeshError('MESH_ERR_TLS', `certificate "${paths.cert}" expired on ${notAfter.toISOString()}`, { hint: 'issue a fresh one with `mesh certs gen`' });
  if (now < notBefore.getTime()) throw new MeshError('MESH_ERR_TLS', `certificate "${paths.cert}" is not valid before ${notBefore.toISOString()}`, { hint: 'check the system clock or re-issue it' });
  const caTrustDomain = trustDomainOfCa(issuer);
  const verdict = checkIdentity(leaf.raw, {
    trustDomain: caTrustDomain ?? undefined,
    roles: opts.roles ?? ['server', 'client'],
    ...(opts.expectSpiffeId !== undefined ? { expected: opts.expectSpiffeId } : {}),
  });
  if (!verdict.ok) {
    throw new MeshError('MESH_ERR_TLS', `certificate "${paths.cert}" is not a usable mesh identity: ${verdict.reason}`, {
      hint: verdict.code === 'IDENTITY_FOREIGN_TRUST_DOMAIN'
        ? `its CA "${paths.ca}" issues identities in ${caTrustDomain}: issue this service a certificate from it with \`mesh certs gen <service> --ca-dir <the CA dir>\``
        : 'issue this service its own certificate with `mesh certs gen <service>`',
    });
  }
  const warnings: string[] = [];
  if (isReadableByOthers(paths.key)) warnings.push(`private key "${paths.key}" is readable by group or others; run: chmod 600 ${paths.key}`);
  if (caTrustDomain === null) {
    warnings.push(`the CA certificate in "${paths.ca}" names no trust domain, so callers and servers are held to this certificate's, ${verdict.trustDomain}`);
  }
  return { paths, certPem, keyPem, caPem, leaf, key, spiffeId: verdict.id, trustDomain: verdict.trustDomain, notAfter, warnings };
}

const BASE: Pick<TlsOptions, 'minVersion'> = { minVersion: 'TLSv1.2' };

export function secureContextOptions(m: TlsMaterial): SecureContextOptions {
  return { ...BASE, cert: m.certPem, key: m.keyPem, ca: m.caPem };
}

/** A server that requires a client certificate chained to the mesh CA: no certificate → handshake refused. */
export function serverTlsOptions(m: TlsMaterial): TlsOptions {
  return { ...secureContextOptions(m), requestCert: true, rejectUnauthorized: true };
}

/**
 * Client options that present our certificate and accept the server only if it is a mesh identity of our trust
 * domain fit to serve TLS — and exactly `expectedServerId` unless that is null (any mesh service).
 */
export function clientTlsOptions(m: TlsMaterial, expectedServerId: string | null): ConnectionOptions {
  const rules = { trustDomain: m.trustDomain, roles: ['server'] as const, ...(expectedServerId === null ? {} : { expected: expectedServerId }) };
  return { ...secureContextOptions(m), rejectUnauthorized: true, checkServerIdentity: serverIdentityCheck(rules) };
}

/**
 * Where a sidecar or proxy gets its current TLS material: files that are watched (ReloadingTlsContext) or the
 * registry (RegistryIdentity). Servers are kept current and clients told when the material changes.
 */
export interface TlsSource {
  readonly material: TlsMaterial;
  /** Keeps a TLS server's context current; its open connections are untouched. */
  attachServer(server: Server): void;
  /** Called with the new material after each change (e.g. to build a new Agent). */
  onReload(listener: (m: TlsMaterial) => void): () => void;
  close(): void;
}

export interface ReloadingTlsContextOptions extends FileWatchOptions {
  expectSpiffeId?: string;
  roles?: readonly IdentityRole[];
  /** Where reload messages go (one line each). */
  log?: (line: string) => void;
  now?: () => number;
}

/**
 * Holds the current TLS material and replaces it when the files change. A new set that fails any check of
 * loadTlsMaterial is refused with one log line and the old one stays in force.
 */
export class ReloadingTlsContext implements TlsSource {
  #material: TlsMaterial;
  #secureContext: SecureContext;
  readonly #subscribers = new TlsSubscribers<TlsMaterial>(secureContextOptions);
  readonly #opts: ReloadingTlsContextOptions;
  #watch: FileWatch | undefined;

  /** Loads the files now (throwing MESH_ERR_TLS if they are unusable) and starts watching them. */
  constructor(readonly paths: TlsFilePaths, opts: ReloadingTlsContextOptions = {}) {
    this.#opts = opts;
    this.#material = this.#load();
    this.#secureContext = createSecureContext(secureContextOptions(this.#material));
    this.#watch = watchFiles([paths.cert, paths.key, paths.ca], () => this.reload(), opts);
  }

  get material(): TlsMaterial { return this.#material; }
  get secureContext(): SecureContext { return this.#secureContext; }

  #load(): TlsMaterial {
    return loadTlsMaterial(this.paths, {
      ...(this.#opts.expectSpiffeId !== undefined ? { expectSpiffeId: this.#opts.expectSpiffeId } : {}),
      ...(this.#opts.roles !== undefined ? { roles: this.#opts.roles } : {}),
      now: (this.#opts.now ?? Date.now)(),
    });
  }

  /** Re-reads the files; returns whether the new set was taken. Called by the watcher, callable by hand. */
  reload(): boolean {
    const log = this.#opts.log ?? (() => {});
    let next: TlsMaterial;
    let ctx: SecureContext;
    try {
      next = this.#load();
      ctx = createSecureContext(secureContextOptions(next));
    } catch (err) {
      const msg = err instanceof Error ? err.message : String(err);
      log(`mesh: refused new TLS files (${msg}); keeping the certificate valid until ${this.#material.notAfter.toISOString()}`);
      return false;
    }
    this.#material = next;
    this.#secureContext = ctx;
    this.#subscribers.publish(next);
    log(`mesh: TLS certificate reloaded (${next.spiffeId}, valid until ${next.notAfter.toISOString()})`);
    for (const w of next.warnings) log(`mesh: warning: ${w}`);
    return true;
  }

  /** Keeps a TLS server's context current; its open connections are untouched. */
  attachServer(server: Server): void { this.#subscribers.attachServer(server); }

  /** For clients: called with the new material after each successful reload (e.g. to build a new Agent). */
  onReload(listener: (m: TlsMaterial) => void): () => void { return this.#subscribers.onReload(listener); }

  close(): void {
    this.#watch?.close();
    this.#watch = undefined;
    this.#subscribers.clear();
  }
}
