// DNS messages in and out, through dns-packet: a query is checked for shape before it is decoded (so a
// malformed packet costs at most one bounded decode), and an answer is built with the right flags, EDNS0 and,
// when it does not fit the client's buffer, truncation with the TC bit (RFC 1035 §4.2.1, RFC 6891, RFC 2181 §9).
import dnsPacket, { type Answer, type DecodedPacket, type OptAnswer, type Packet, type Question } from 'dns-packet';
import { MAX_EDNS_UDP_BYTES, MAX_QUERY_BYTES, PLAIN_UDP_BYTES } from './limits.js';

export const RCODE = { NOERROR: 0, FORMERR: 1, SERVFAIL: 2, NXDOMAIN: 3, NOTIMP: 4, REFUSED: 5, BADVERS: 16 } as const;
export type RcodeName = keyof typeof RCODE;

export interface Query {
  id: number;
  opcode: number;
  rd: boolean;
  cd: boolean;
  question: Question;
  /** Present when the query carried an OPT record. */
  edns?: { udpSize: number; version: number };
}

/** Why a packet gets no answer at all: too short to echo an ID, a response (answering those makes loops), too big. */
export type DropReason = 'short' | 'response' | 'oversize';

export type ReadResult =
  | { kind: 'query'; query: Query }
  /** A header-only answer (FORMERR, NOTIMP) that echoes the ID and opcode. */
  | { kind: 'reject'; rcode: RcodeName; reply: Buffer }
  | { kind: 'drop'; reason: DropReason };

const QR = 0x8000;

/** Reads one query. Never throws: anything malformed becomes a reject (FORMERR) or a drop. */
export function readQuery(buf: Buffer): ReadResult {
  if (buf.length < 12) return { kind: 'drop', reason: 'short' };
  if (buf.length > MAX_QUERY_BYTES) return { kind: 'drop', reason: 'oversize' };
  const id = buf.readUInt16BE(0);
  const flags = buf.readUInt16BE(2);
  if (flags & QR) return { kind: 'drop', reason: 'response' };
  const opcode = (flags >> 11) & 0xf;
  const rd = (flags & dnsPacket.RECURSION_DESIRED) !== 0;
  if (opcode !== 0) return reject(id, opcode, rd, 'NOTIMP');
  // One question, no answer or authority records, at most one additional (the OPT): anything else is not a
  // query mesh answers, and checking the counts first keeps a forged count from driving the decoder.
  if (buf.readUInt16BE(4) !== 1 || buf.readUInt16BE(6) !== 0 || buf.readUInt16BE(8) !== 0 || buf.readUInt16BE(10) > 1) {
    return reject(id, opcode, rd, 'FORMERR');
  }
  let packet: DecodedPacket;
  try {
    packet = dnsPacket.decode(buf);
  } catch {
    // Truncated records, labels past the end, pointers that do not point backwards (loops), names over 255.
    return reject(id, opcode, rd, 'FORMERR');
  }
  if (dnsPacket.decode.bytes !== buf.length) return reject(id, opcode, rd, 'FORMERR');
  const question = packet.questions![0]!;
  const query: Query = { id, opcode, rd, cd: (flags & dnsPacket.CHECKING_DISABLED) !== 0, question };
  const extra = packet.additionals?.[0];
  if (extra !== undefined) {
    if (extra.type !== 'OPT' || extra.name !== '.') return reject(id, opcode, rd, 'FORMERR');
    const opt = extra as OptAnswer;
    query.edns = { udpSize: opt.udpPayloadSize, version: opt.ednsVersion };
  }
  return { kind: 'query', query };
}

function reject(id: number, opcode: number, rd: boolean, rcode: RcodeName): ReadResult {
  const flags = (opcode << 11) | (rd ? dnsPacket.RECURSION_DESIRED : 0) | RCODE[rcode];
  return { kind: 'reject', rcode, reply: dnsPacket.encode({ id, type: 'response', flags, questions: [] }) };
}

/** The largest answer a client can take over UDP: 512 bytes, or its EDNS0 buffer size up to 4096. */
export function udpLimit(query: Query): number {
  if (query.edns === undefined) return PLAIN_UDP_BYTES;
  return Math.min(Math.max(query.edns.udpSize, PLAIN_UDP_BYTES), MAX_EDNS_UDP_BYTES);
}

export interface Reply {
  rcode: RcodeName;
  answers: Answer[];
  authorities: Answer[];
  additionals: Answer[];
  authoritative: boolean;
  recursionAvailable: boolean;
}

/**
 * Encodes the answer to `query` in at most `limit` bytes. When it does not fit, the additional records go
 * first (no TC needed, RFC 2181 §9), then trailing answers, and TC is set so the client retries over TCP.
 */
export function encodeReply(query: Query, reply: Reply, limit: number): { bytes: Buffer; truncated: boolean } {
  const code = RCODE[reply.rcode];
  const opt: Answer[] = query.edns === undefined ? [] : [{
    name: '.', type: 'OPT', udpPayloadSize: MAX_EDNS_UDP_BYTES, extendedRcode: code >> 4, ednsVersion: 0, flags: 0, flag_do: false, options: [],
  }];
  const flags = (query.opcode << 11) | (code & 0xf)
    | (reply.authoritative ? dnsPacket.AUTHORITATIVE_ANSWER : 0)
    | (query.rd ? dnsPacket.RECURSION_DESIRED : 0)
    | (reply.recursionAvailable ? dnsPacket.RECURSION_AVAILABLE : 0)
    | (query.cd ? dnsPacket.CHECKING_DISABLED : 0);
  const packet: Packet = {
    id: query.id, type: 'response', flags, questions: [query.question],
    answers: reply.answers, authorities: reply.authorities, additionals: [...reply.additionals, ...opt],
  };
  const whole = encode(packet);
  if (whole.length <= limit) return { bytes: whole, truncated: false };
  packet.additionals = opt;
  if (dnsPacket.encodingLength(packet) <= limit) return { bytes: dnsPacket.encode(packet), truncated: false };
  // Keep the answers that fit after the fixed part (header, question, authority, OPT).
  let size = dnsPacket.encodingLength({ ...packet, answers: [] });
  const kept: Answer[] = [];
  for (const rr of reply.answers) {
    size += recordLength(rr);
    if (size > limit) break;
    kept.push(rr);
  }
  packet.answers = kept;
  packet.flags = flags | dnsPacket.TRUNCATED_RESPONSE;
  return { bytes: dnsPacket.encode(packet), truncated: true };
}

/**
 * Most answers are a handful of records: they are encoded into one scratch buffer and copied out, which skips
 * dns-packet's sizing pass and an allocation per answer. Each record is at most ~530 bytes (two names of 255
 * plus fixed fields), so below SCRATCH_RECORDS records an answer cannot overflow the scratch buffer (dns-packet
 * writes names with Buffer.write, which would cut silently rather than throw); larger ones are sized first.
 */
const SCRATCH = Buffer.allocUnsafe(64 * 1024);
const SCRATCH_RECORDS = 100;

function encode(packet: Packet): Buffer {
  const records = packet.answers!.length + packet.authorities!.length + packet.additionals!.length;
  if (records >= SCRATCH_RECORDS) return dnsPacket.encode(packet);
  dnsPacket.encode(packet, SCRATCH, 0);
  return Buffer.from(SCRATCH.subarray(0, dnsPacket.encode.bytes));
}

/** One record's encoded size: dns-packet does not compress names, so it does not depend on its neighbours. */
function recordLength(rr: Answer): number {
  return dnsPacket.encodingLength({ answers: [rr] }) - 12;
}

/** A reply that only carries an rcode (REFUSED, SERVFAIL, BADVERS), for a query that did decode. */
export function bareReply(rcode: RcodeName, recursionAvailable: boolean): Reply {
  return { rcode, answers: [], authorities: [], additionals: [], authoritative: false, recursionAvailable };
}
