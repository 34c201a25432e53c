// Every bound the DNS front end works within, in one place: what a client may make it do is limited per packet
// (size, record counts), per TCP connection (message size, idle time, unsent output) and in total (connections,
// forwarded queries in flight). Anything past a bound is answered FORMERR or dropped, and counted.

/** A UDP answer without EDNS0 fits in 512 bytes (RFC 1035 §4.2.1). */
export const PLAIN_UDP_BYTES = 512;
/** The largest UDP answer mesh sends to an EDNS0 client, whatever buffer size it advertises. */
export const MAX_EDNS_UDP_BYTES = 4096;
/** The largest message over TCP (the 2-byte length prefix's limit). */
export const MAX_TCP_RESPONSE_BYTES = 65_535;
/**
 * The largest query mesh reads. A query holds one question and at most one OPT record, so even a maximal name
 * and generous EDNS options fit well within this; a longer one is not a query mesh answers.
 */
export const MAX_QUERY_BYTES = 4096;
/** A TCP connection that completes no query for this long is closed (RFC 7766 §6.2.3 suggests seconds). */
export const TCP_IDLE_MS = 10_000;
/** Open TCP connections at once; one more is closed as soon as it is accepted. */
export const MAX_TCP_CONNECTIONS = 256;
/** A TCP client that stops reading: past this much unsent output the connection stops being read. */
export const TCP_MAX_UNSENT_BYTES = 256 * 1024;
/** Queries forwarded to --dns-recursor and not yet answered; more are answered SERVFAIL at once. */
export const MAX_FORWARDS_IN_FLIGHT = 1024;
/** How long a forwarded query may wait for the recursor before the client gets SERVFAIL. */
export const FORWARD_TIMEOUT_MS = 2_000;
