// Signs leaves with the daemon's issuer: the SPIFFE ID of the authorised service as the only name, end-entity
// (CA:FALSE), keyUsage digitalSignature, EKU serverAuth + clientAuth — the shape a mesh peer checks for. The
// subject carries the bootstrap token that authorised the identity (OU=mesh-token-<id>), so a renewal can be
// refused once that token is revoked.
import { X509Certificate, type KeyObject } from 'node:crypto';
import { formatServiceId } from '../../tls/spiffe.js';
import type { LoadedIssuer } from '../../tls/issuer.js';
import { importSigningKey, randomSerial, x509, type SigningKey } from '../../tls/x509-sign.js';

/** Leaves start a minute in the past so a peer whose clock is slightly behind does not see "not yet valid". */
const BACKDATE_MS = 60_000;
const TOKEN_OU = /(?:^|\n|, )OU=mesh-token-([0-9a-f]{12})(?:$|\n|,)/;

export interface SignedLeaf {
  certPem: string;
  /** The leaf followed by the issuer: what a TLS peer sends. */
  chainPem: string;
  spiffeId: string;
  serial: string;
  notBefore: string;
  notAfter: string;
}

export class LeafSigner {
  private constructor(
    readonly issuer: LoadedIssuer,
    private readonly key: SigningKey,
    private readonly issuerCert: x509.X509Certificate,
    /** The same for every leaf: computed once. */
    private readonly authorityKeyId: x509.AuthorityKeyIdentifierExtension,
  ) {}

  static async create(issuer: LoadedIssuer): Promise<LeafSigner> {
    const cert = new x509.X509Certificate(issuer.certPem);
    return new LeafSigner(issuer, await importSigningKey(issuer.key), cert, await x509.AuthorityKeyIdentifierExtension.create(cert.publicKey));
  }

  get trustDomain(): string { return this.issuer.trustDomain; }

  /** Issues a leaf for `service` over `publicKey`, valid `ttlMs` from `now` (cut to end with the issuer). */
  async sign(opts: { service: string; publicKey: KeyObject; publicKeyDer: Buffer; tokenId: string; ttlMs: number; now: number }): Promise<SignedLeaf> {
    const spiffeId = formatServiceId(this.issuer.trustDomain, opts.service);
    const issuerEnd = new Date(this.issuer.cert.validTo).getTime();
    const notAfter = new Date(Math.min(opts.now + opts.ttlMs, issuerEnd));
    const rsa = opts.publicKey.asymmetricKeyType === 'rsa';
    const serial = randomSerial();
    const cert = await x509.X509CertificateGenerator.create({
      serialNumber: serial,
      subject: `CN=${opts.service}, OU=mesh-token-${opts.tokenId}, O=mesh`,
      issuer: this.issuerCert.subjectName,
      notBefore: new Date(opts.now - BACKDATE_MS),
      notAfter,
      publicKey: opts.publicKeyDer,
      signingKey: this.key.key,
      signingAlgorithm: this.key.algorithm,
      extensions: [
        new x509.BasicConstraintsExtension(false, undefined, true),
        new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature | (rsa ? x509.KeyUsageFlags.keyEncipherment : 0), true),
        new x509.ExtendedKeyUsageExtension([x509.ExtendedKeyUsage.serverAuth, x509.ExtendedKeyUsage.clientAuth]),
        new x509.SubjectAlternativeNameExtension([{ type: 'url', value: spiffeId }], false),
        await x509.SubjectKeyIdentifierExtension.create(opts.publicKeyDer),
        this.authorityKeyId,
      ],
    });
    const certPem = `${cert.toString('pem')}\n`;
    const x = new X509Certificate(certPem);
    return {
      certPem, chainPem: `${certPem}${this.issuer.certPem}`, spiffeId, serial,
      notBefore: new Date(x.validFrom).toISOString(), notAfter: new Date(x.validTo).toISOString(),
    };
  }
}

/** The bootstrap token a leaf was issued under, from its subject; null for certificates mesh did not issue so. */
export function tokenIdOf(cert: X509Certificate): string | null {
  return TOKEN_OU.exec(cert.subject)?.[1] ?? null;
}
