// A fast, well-spread 32-bit string hash for placement decisions (ring hashing, rendezvous hashing).
// Not cryptographic: it decides where things go, never whether something is trusted.

/**
 * 32-bit FNV-1a over UTF-16 code units, then murmur3's fmix32 finaliser: FNV alone clusters similar strings
 * ("k#1", "k#2"), the finaliser spreads them. Reads the string in place: no allocation per call.
 */
export function hashString(text: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) {
    h ^= text.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}
