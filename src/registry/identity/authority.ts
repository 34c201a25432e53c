// Starts the daemon's identity service from its issuer directory, and keeps it current: when the issuer files
// change (a new issuer, a root added to or removed from roots.pem during a rotation) they are reloaded; a set
// that fails loadIssuer's checks is refused with one log line and the current issuer stays in force.
import type { Clock } from '../../core/clock.js';
import { watchFiles, type FileWatch } from '../../core/file-watch.js';
import { issuerPaths, loadIssuer } from '../../tls/issuer.js';
import { IdentityService } from './service.js';
import { LeafSigner } from './signer.js';
import type { TokenStore } from './token-store.js';

export interface IdentityConfig {
  issuerDir: string;
  certTtlMs: number;
}

export interface RunningAuthority { service: IdentityService; close(): void }

/** Loads and checks the issuer (throws MESH_ERR_TLS when unusable) — call before opening the store. */
export function checkIssuer(config: IdentityConfig, clock: Clock): ReturnType<typeof loadIssuer> {
  return loadIssuer(config.issuerDir, clock.now());
}

export async function startAuthority(config: IdentityConfig, tokens: TokenStore, clock: Clock, log: (line: string) => void): Promise<RunningAuthority> {
  const issuer = checkIssuer(config, clock);
  const service = new IdentityService({ signer: await LeafSigner.create(issuer), tokens, clock, certTtlMs: config.certTtlMs, log });
  const p = issuerPaths(issuer.dir);
  const watch: FileWatch = watchFiles([p.certPath, p.keyPath, p.rootsPath], () => {
    void (async () => {
      try {
        const next = await LeafSigner.create(checkIssuer(config, clock));
        service.replaceSigner(next);
        log(`identity: issuer reloaded (${next.issuer.cert.subject.replace(/\n/g, ', ')}, ${next.issuer.roots.length} root${next.issuer.roots.length === 1 ? '' : 's'} in the trust bundle)`);
      } catch (err) {
        log(`identity: refused the changed issuer files (${(err as Error).message}); still signing with the previous issuer`);
      }
    })();
  });
  log(`identity: signing ${config.certTtlMs / 1000} s certificates for spiffe://${issuer.trustDomain}/service/* with ${issuer.cert.subject.replace(/\n/g, ', ')} (valid until ${new Date(issuer.cert.validTo).toISOString()})`);
  return { service, close: () => watch.close() };
}
