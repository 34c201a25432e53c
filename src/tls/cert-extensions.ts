// The four X.509 extensions a mesh identity depends on (basicConstraints, keyUsage, extKeyUsage and the URI
// subject alternative names), read straight from a certificate's DER. Node exposes basicConstraints and the
// extended key usages but not the keyUsage bits, and @peculiar/x509 costs ~150 ms to load and a JavaScript
// ASN.1 parse per certificate; the proxy checks every peer at the handshake, so it reads the few fields it
// needs with a small DER walker. Certificates reach it only after OpenSSL parsed them, so anything malformed
// here is refused rather than guessed at.

/** keyUsage bits, numbered as RFC 5280 names them (bit 0 = digitalSignature). */
export const KeyUsageBit = {
  digitalSignature: 0, nonRepudiation: 1, keyEncipherment: 2, dataEncipherment: 3, keyAgreement: 4,
  keyCertSign: 5, cRLSign: 6, encipherOnly: 7, decipherOnly: 8,
} as const;
export type KeyUsageName = keyof typeof KeyUsageBit;

export const EKU_SERVER_AUTH = '1.3.6.1.5.5.7.3.1';
export const EKU_CLIENT_AUTH = '1.3.6.1.5.5.7.3.2';

export interface CertExtensions {
  /** basicConstraints cA (false when the extension is absent). */
  ca: boolean;
  /** The uniformResourceIdentifier entries of subjectAltName, in order. */
  uris: string[];
  /** The keyUsage names set, or null when the extension is absent (any usage). */
  keyUsage: KeyUsageName[] | null;
  /** The extKeyUsage OIDs (dotted), or null when the extension is absent (any usage). */
  extKeyUsage: string[] | null;
}

interface Tlv { tag: number; start: number; end: number }

const SEQUENCE = 0x30;
const EXTENSIONS = 0xa3; // [3] EXPLICIT in TBSCertificate
const OID = 0x06;
const BOOLEAN = 0x01;
const OCTET_STRING = 0x04;
const BIT_STRING = 0x03;
const URI_NAME = 0x86; // GeneralName uniformResourceIdentifier [6] IMPLICIT IA5String

// Extension OIDs as their DER content bytes (2.5.29.x).
const BASIC_CONSTRAINTS = '551d13';
const KEY_USAGE = '551d0f';
const EXT_KEY_USAGE = '551d25';
const SUBJECT_ALT_NAME = '551d11';

export class MalformedCertificateError extends Error {}

/** Reads the identity-relevant extensions of a DER certificate; throws MalformedCertificateError on bad DER. */
export function readCertExtensions(der: Uint8Array): CertExtensions {
  const out: CertExtensions = { ca: false, uris: [], keyUsage: null, extKeyUsage: null };
  const cert = expect(readTlv(der, 0, der.length), SEQUENCE);
  const tbs = expect(readTlv(der, cert.start, cert.end), SEQUENCE);
  const wrapper = children(der, tbs).find((t) => t.tag === EXTENSIONS);
  if (wrapper === undefined) return out; // a v1 certificate: no extensions at all
  const list = expect(readTlv(der, wrapper.start, wrapper.end), SEQUENCE);
  for (const ext of children(der, list)) {
    const parts = children(der, expect(ext, SEQUENCE));
    const id = hex(der, expect(parts[0], OID));
    const value = expect(parts[parts.length - 1], OCTET_STRING);
    if (parts.length === 3) expect(parts[1], BOOLEAN);
    const inner = readTlv(der, value.start, value.end);
    // A duplicated extension (which RFC 5280 forbids) only ever adds: more URIs, CA if any copy says so.
    if (id === BASIC_CONSTRAINTS) {
      const first = children(der, expect(inner, SEQUENCE))[0];
      if (first?.tag === BOOLEAN && first.end > first.start && der[first.start] !== 0) out.ca = true;
    } else if (id === KEY_USAGE) {
      out.keyUsage = [...new Set([...(out.keyUsage ?? []), ...keyUsageNames(der, expect(inner, BIT_STRING))])];
    } else if (id === EXT_KEY_USAGE) {
      out.extKeyUsage = [...(out.extKeyUsage ?? []), ...children(der, expect(inner, SEQUENCE)).map((t) => oidText(der, expect(t, OID)))];
    } else if (id === SUBJECT_ALT_NAME) {
      for (const name of children(der, expect(inner, SEQUENCE))) {
        if (name.tag === URI_NAME) out.uris.push(Buffer.from(der.subarray(name.start, name.end)).toString('latin1'));
      }
    }
  }
  return out;
}

function keyUsageNames(der: Uint8Array, bits: Tlv): KeyUsageName[] {
  const names: KeyUsageName[] = [];
  const bytes = bits.end - bits.start - 1; // the first content byte counts the unused bits
  for (const [name, bit] of Object.entries(KeyUsageBit) as [KeyUsageName, number][]) {
    if ((bit >> 3) < bytes && (der[bits.start + 1 + (bit >> 3)]! & (0x80 >> (bit & 7))) !== 0) names.push(name);
  }
  return names;
}

function readTlv(der: Uint8Array, at: number, limit: number): Tlv {
  if (at + 2 > limit) throw new MalformedCertificateError('truncated DER');
  const tag = der[at]!;
  if ((tag & 0x1f) === 0x1f) throw new MalformedCertificateError('multi-byte DER tag');
  let len = der[at + 1]!;
  let start = at + 2;
  if (len & 0x80) {
    const n = len & 0x7f;
    if (n === 0 || n > 4 || start + n > limit) throw new MalformedCertificateError('bad DER length');
    len = 0;
    for (let i = 0; i < n; i++) len = len * 256 + der[start + i]!;
    start += n;
  }
  const end = start + len;
  if (end > limit) throw new MalformedCertificateError('DER length past its container');
  return { tag, start, end };
}

function children(der: Uint8Array, parent: Tlv): Tlv[] {
  const out: Tlv[] = [];
  for (let at = parent.start; at < parent.end;) {
    const t = readTlv(der, at, parent.end);
    out.push(t);
    at = t.end;
  }
  return out;
}

function expect(t: Tlv | undefined, tag: number): Tlv {
  if (t === undefined || t.tag !== tag) throw new MalformedCertificateError(`expected DER tag 0x${tag.toString(16)}`);
  return t;
}

function hex(der: Uint8Array, t: Tlv): string {
  return Buffer.from(der.subarray(t.start, t.end)).toString('hex');
}

/** An OBJECT IDENTIFIER's content as dotted text ("1.3.6.1.5.5.7.3.1"). */
function oidText(der: Uint8Array, t: Tlv): string {
  const arcs: number[] = [];
  let v = 0;
  for (let i = t.start; i < t.end; i++) {
    v = v * 128 + (der[i]! & 0x7f);
    if ((der[i]! & 0x80) === 0) { arcs.push(v); v = 0; }
  }
  if (arcs.length === 0) throw new MalformedCertificateError('empty OID');
  const first = arcs.shift()!;
  const top = first < 80 ? Math.floor(first / 40) : 2;
  return [top, first - top * 40, ...arcs].join('.');
}
