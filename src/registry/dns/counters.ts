// What the DNS front end counts: plain numbers bumped on the query path and read only when the registry's
// /v1/metrics is scraped (see ../metrics.ts), so counting costs an increment.
import type { DropReason, RcodeName } from './message.js';

export type Transport = 'udp' | 'tcp';

/** Why a TCP connection was closed by the server rather than by its client. */
export type TcpCloseReason = 'idle' | 'oversize' | 'limit';

export class DnsCounters {
  /** Answers sent, by transport and rcode (FORMERR answers count here too). */
  readonly answers: Record<Transport, Partial<Record<RcodeName, number>>> = { udp: {}, tcp: {} };
  /** Packets that got no answer at all. */
  readonly dropped: Record<DropReason, number> = { short: 0, response: 0, oversize: 0 };
  /** TCP connections the server closed. */
  readonly tcpClosed: Record<TcpCloseReason, number> = { idle: 0, oversize: 0, limit: 0 };
  /** UDP answers that had to be cut to the client's buffer (TC set). */
  truncated = 0;
  /** Queries passed to --dns-recursor: answered by it, or failed (timeout, error, too many in flight). */
  readonly forwarded = { answered: 0, failed: 0 };
  /** TCP connections open now. */
  tcpOpen = 0;

  answer(transport: Transport, rcode: RcodeName): void {
    const byRcode = this.answers[transport];
    byRcode[rcode] = (byRcode[rcode] ?? 0) + 1;
  }
}
