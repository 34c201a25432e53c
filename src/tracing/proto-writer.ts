// A small protobuf wire-format writer: just what OTLP trace export needs (varints, length-delimited fields,
// fixed64 timestamps, doubles). Nested messages are written in place: begin() reserves one length byte and
// end() widens it when the message turned out longer than 127 bytes (one memmove), so a whole export request
// is encoded into one growing buffer without an object per field.
const TWO_32 = 4294967296;

export class ProtoWriter {
  private buf: Buffer;
  private pos = 0;

  constructor(initialSize = 64 * 1024) {
    this.buf = Buffer.allocUnsafe(initialSize);
  }

  /** The bytes written so far (a copy: the writer's buffer is reused). */
  finish(): Buffer {
    return Buffer.from(this.buf.subarray(0, this.pos));
  }

  /** Empties the writer; `gap` bytes are left free at the front for prepend(). */
  reset(gap = 0): void { this.pos = gap; }

  /**
   * Writes `head` just before `at` (into the gap left by reset) and returns head and everything after it as a
   * view of the writer's buffer, without a copy: valid until the writer is reset.
   */
  prepend(head: Uint8Array, at: number): Buffer {
    this.buf.set(head, at - head.length);
    return this.buf.subarray(at - head.length, this.pos);
  }

  /** How many bytes are written. */
  get length(): number { return this.pos; }

  /** Bytes already in wire format (spans encoded earlier). */
  raw(bytes: Buffer): void {
    this.ensure(bytes.length);
    bytes.copy(this.buf, this.pos);
    this.pos += bytes.length;
  }

  /** The same for a small block (one memcpy: TypedArray.set, no Buffer method call). */
  bytes(bytes: Uint8Array): void {
    this.ensure(bytes.length);
    this.buf.set(bytes, this.pos);
    this.pos += bytes.length;
  }

  /** What was written from `start` on: a view of the writer's buffer, valid until the next write. */
  view(start: number): Uint8Array {
    return this.buf.subarray(start, this.pos);
  }

  private ensure(n: number): void {
    if (this.pos + n <= this.buf.length) return;
    const next = Buffer.allocUnsafe(Math.max(this.buf.length * 2, this.pos + n));
    this.buf.copy(next, 0, 0, this.pos);
    this.buf = next;
  }

  /** A non-negative integer up to 2^53 as a varint. */
  varint(v: number): void {
    this.ensure(10);
    while (v >= 128) {
      this.buf[this.pos++] = (v % 128) | 128;
      v = Math.floor(v / 128);
    }
    this.buf[this.pos++] = v;
  }

  tag(field: number, wireType: number): void { this.varint(field * 8 + wireType); }

  uint(field: number, v: number): void { this.tag(field, 0); this.varint(v); }

  bool(field: number, v: boolean): void { this.tag(field, 0); this.varint(v ? 1 : 0); }

  double(field: number, v: number): void {
    this.tag(field, 1);
    this.ensure(8);
    this.buf.writeDoubleLE(v, this.pos);
    this.pos += 8;
  }

  fixed32(field: number, v: number): void {
    this.tag(field, 5);
    this.ensure(4);
    this.buf.writeUInt32LE(v >>> 0, this.pos);
    this.pos += 4;
  }

  /**
   * A wall-clock time in ms (fractional) as fixed64 nanoseconds since the epoch. The product does not fit a
   * double exactly, so it is built from 32-bit halves, with no BigInt per timestamp.
   */
  epochNanos(field: number, epochMs: number): void {
    const ms = Math.floor(epochMs);
    const sub = Math.round((epochMs - ms) * 1e6);
    const msHi = Math.floor(ms / TWO_32);
    const low = (ms - msHi * TWO_32) * 1e6 + sub;
    const carry = Math.floor(low / TWO_32);
    this.tag(field, 1);
    this.ensure(8);
    this.buf.writeUInt32LE(low - carry * TWO_32, this.pos);
    this.buf.writeUInt32LE(msHi * 1e6 + carry, this.pos + 4);
    this.pos += 8;
  }

  /**
   * Short ASCII strings (attribute keys, methods, paths, addresses: nearly all of them) are copied byte by byte
   * in JavaScript: a Buffer.write() call per string cost more than the rest of the encoding put together.
   */
  string(field: number, s: string): void {
    const n = s.length;
    this.tag(field, 2);
    if (n < 128) {
      this.ensure(n + 1);
      const b = this.buf;
      let p = this.pos + 1;
      for (let i = 0; i < n; i++) {
        const c = s.charCodeAt(i);
        if (c >= 0x80) { this.longString(s); return; }
        b[p++] = c;
      }
      b[this.pos] = n;
      this.pos = p;
      return;
    }
    this.longString(s);
  }

  /** After the tag: a string of any length or alphabet, through Buffer.write. */
  private longString(s: string): void {
    const start = this.pos + 1;
    this.ensure(1 + s.length * 3);
    this.pos = start;
    this.pos += this.buf.write(s, this.pos, 'utf8');
    this.end(start);
  }

  /**
   * A KeyValue { key = 1; value = 2: AnyValue { string_value = 1 } } whose key is already encoded (`key` is
   * the key field: 0x0a, length, bytes). When the whole KeyValue is under 128 bytes of ASCII (nearly every
   * attribute), all lengths are known up front and it is written in one pass without begin()/end().
   * Returns false, having written nothing, when it is not; the caller then takes the general path.
   */
  shortStringAttribute(field: number, key: Uint8Array, value: string): boolean {
    const n = value.length;
    const kvLen = key.length + 4 + n;
    if (kvLen >= 128 || field >= 16) return false;
    let p = this.attributeHead(field, kvLen, key, n + 2);
    const b = this.buf;
    b[p++] = 0x0a; // AnyValue.string_value
    b[p++] = n;
    for (let i = 0; i < n; i++) {
      const c = value.charCodeAt(i);
      if (c >= 0x80) return false;
      b[p++] = c;
    }
    this.pos = p;
    return true;
  }

  /** The same for AnyValue { int_value = 3 } holding a non-negative integer (a status, a port, a count). */
  uintAttribute(field: number, key: Uint8Array, value: number): boolean {
    let size = 1;
    for (let v = value; v >= 128; v = Math.floor(v / 128)) size++;
    const kvLen = key.length + 3 + size;
    if (kvLen >= 128 || field >= 16 || !(value >= 0)) return false;
    this.pos = this.attributeHead(field, kvLen, key, size + 1);
    this.uint(3, value);
    return true;
  }

  /** Writes a short KeyValue's tag, length, key field and value header; returns where the AnyValue starts. */
  private attributeHead(field: number, kvLen: number, key: Uint8Array, anyLen: number): number {
    this.ensure(kvLen + 2);
    const b = this.buf;
    let p = this.pos;
    b[p++] = (field << 3) | 2;
    b[p++] = kvLen;
    for (let i = 0; i < key.length; i++) b[p++] = key[i]!;
    b[p++] = 0x12; // KeyValue.value
    b[p++] = anyLen;
    return p;
  }

  /** A hex id (trace or span id) as its raw bytes, parsed here for the same reason as string(). */
  hexBytes(field: number, hex: string): void {
    const n = hex.length >> 1;
    this.tag(field, 2);
    this.varint(n);
    this.ensure(n);
    const b = this.buf;
    let p = this.pos;
    for (let i = 0; i < hex.length; i += 2) b[p++] = (HEX[hex.charCodeAt(i) & 127]! << 4) | HEX[hex.charCodeAt(i + 1) & 127]!;
    this.pos = p;
  }

  /** Starts a length-delimited field; pass the result to end() when its content is written. */
  begin(field: number): number {
    this.tag(field, 2);
    this.ensure(1);
    this.pos++;
    return this.pos;
  }

  end(start: number): void {
    const len = this.pos - start;
    if (len < 128) { this.buf[start - 1] = len; return; }
    let size = 1;
    for (let v = len; v >= 128; v = Math.floor(v / 128)) size++;
    this.ensure(size - 1);
    this.buf.copyWithin(start + size - 1, start, this.pos);
    let at = start - 1;
    let v = len;
    while (v >= 128) { this.buf[at++] = (v % 128) | 128; v = Math.floor(v / 128); }
    this.buf[at] = v;
    this.pos += size - 1;
  }
}

/** '0'-'9', 'a'-'f', 'A'-'F' → 0..15, by char code (ids are validated lower-case hex before they get here). */
const HEX = new Uint8Array(128);
for (let c = 0; c < 128; c++) HEX[c] = c >= 48 && c <= 57 ? c - 48 : (c | 32) >= 97 && (c | 32) <= 102 ? (c | 32) - 87 : 0;
