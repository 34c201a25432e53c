// The journal's on-disk framing, [u32 length][u32 crc32][JSON object payload] (little endian), and how a file
// of frames is read without trusting it. Replay and repair both use scanFrames, so they agree on what is readable.
//
// A bad frame means one of two things, and the difference decides whether the daemon may start:
//   - a torn tail: the last write before a crash reached the disk only in part. Nothing valid follows it, and
//     it held only unacknowledged records (a batch's promises resolve after its fdatasync), so cutting it off
//     loses nothing anyone was told is stored.
//   - damage: a valid frame follows the bad bytes. Those later records were acknowledged, so the bad bytes were
//     acknowledged too; cutting at the first bad frame would silently drop everything after it.
// To tell them apart, the scan looks for the next valid frame at every byte offset after the bad one. A frame
// found by chance in garbage needs a plausible length, a matching CRC-32 and a payload that parses as JSON.
// The one case this misjudges: a filesystem that, after a crash, shows never-written blocks inside the last
// write (zeros) while later blocks of that same write did land. The records after the hole were never
// acknowledged, yet the start is refused; `mesh registry repair` then keeps everything readable. Refusing a start
// that needed no refusal is the cheaper mistake than dropping acknowledged records without a word.
import { crc32 } from 'node:zlib';

export const FRAME_HEADER = 8;
/** A record larger than this is treated as corruption (the API caps bodies at 1 MiB). */
const MAX_RECORD = 16 * 1024 * 1024;
const OPEN_BRACE = 0x7b;
const CLOSE_BRACE = 0x7d;

/** Frames one record; a record is a JSON object (replay relies on the braces to skip garbage quickly). */
export function encodeRecord(record: object): Buffer {
  const payload = Buffer.from(JSON.stringify(record), 'utf8');
  const buf = Buffer.allocUnsafe(FRAME_HEADER + payload.length);
  buf.writeUInt32LE(payload.length, 0);
  buf.writeUInt32LE(crc32(payload), 4);
  payload.copy(buf, FRAME_HEADER);
  return buf;
}

/** The record whose frame starts at off and where that frame ends, or undefined if no valid frame starts there. */
export function frameAt(buf: Buffer, off: number): { record: unknown; end: number } | undefined {
  if (buf.length - off < FRAME_HEADER) return undefined;
  const len = buf.readUInt32LE(off);
  // A JSON payload is never empty; rejecting length 0 early also keeps a scan through zero-filled blocks cheap.
  if (len === 0 || len > MAX_RECORD || buf.length - off - FRAME_HEADER < len) return undefined;
  // Records are JSON objects: checking the braces first spares a resync through random bytes a CRC over every
  // plausible length (an 8 MiB random tail took 18 s to scan without it, under 1 s with it).
  const start = off + FRAME_HEADER;
  if (buf[start] !== OPEN_BRACE || buf[start + len - 1] !== CLOSE_BRACE) return undefined;
  const payload = buf.subarray(start, start + len);
  if (crc32(payload) !== buf.readUInt32LE(off + 4)) return undefined;
  try {
    return { record: JSON.parse(payload.toString('utf8')), end: off + FRAME_HEADER + len };
  } catch {
    return undefined;
  }
}

/** Walks the frames from off while they are valid; calls onRecord for each; returns where the valid run ends. */
export function decodeRecords(buf: Buffer, onRecord: (record: unknown) => void, off = 0): { end: number; records: number } {
  let records = 0;
  for (let frame = frameAt(buf, off); frame; frame = frameAt(buf, off)) {
    onRecord(frame.record);
    records++;
    off = frame.end;
  }
  return { end: off, records };
}

/** The offset of the first valid frame at or after from, or -1 if there is none. */
export function nextFrame(buf: Buffer, from: number): number {
  for (let off = from; off <= buf.length - FRAME_HEADER; off++) if (frameAt(buf, off)) return off;
  return -1;
}

/** Bytes no valid frame covers: damage when a valid frame follows, a torn tail when the region runs to the end. */
export interface DamagedRegion { offset: number; bytes: number }

export interface FrameScan {
  /** Valid frames read, in file order. */
  records: number;
  /** Byte ranges [start, end) of the valid frames, merged where adjacent. */
  kept: { start: number; end: number }[];
  /** Unreadable regions that valid frames follow. */
  damaged: DamagedRegion[];
  /** Unreadable bytes at the end of the file with no valid frame after them (a torn write), or 0. */
  tornTailBytes: number;
}

/** Reads every valid frame of buf, resynchronising after each unreadable region. */
export function scanFrames(buf: Buffer, onRecord: (record: unknown) => void = () => {}): FrameScan {
  const scan: FrameScan = { records: 0, kept: [], damaged: [], tornTailBytes: 0 };
  let off = 0;
  for (;;) {
    const run = decodeRecords(buf, onRecord, off);
    if (run.end > off) scan.kept.push({ start: off, end: run.end });
    scan.records += run.records;
    if (run.end === buf.length) return scan;
    const resume = nextFrame(buf, run.end + 1);
    if (resume < 0) {
      scan.tornTailBytes = buf.length - run.end;
      return scan;
    }
    scan.damaged.push({ offset: run.end, bytes: resume - run.end });
    off = resume;
  }
}
