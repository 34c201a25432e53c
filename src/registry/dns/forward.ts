// --dns-recursor: queries for names outside the domain go to another DNS server, over the transport the client
// used (UDP to UDP, so the client's EDNS0 buffer size still governs truncation; TCP to a fresh TCP connection).
// The upstream answer is passed back byte for byte, with only the ID restored. Bounded: at most
// MAX_FORWARDS_IN_FLIGHT outstanding, each for at most FORWARD_TIMEOUT_MS; past either the client gets SERVFAIL.
import { createSocket, type Socket as UdpSocket } from 'node:dgram';
import { connect, isIPv6 } from 'node:net';
import type { HostPort } from '../../core/validate.js';
import { FORWARD_TIMEOUT_MS, MAX_FORWARDS_IN_FLIGHT, MAX_TCP_RESPONSE_BYTES } from './limits.js';

interface Pending { resolve: (reply: Buffer | undefined) => void; timer: NodeJS.Timeout }

export class Forwarder {
  private udp: UdpSocket | undefined;
  private readonly pending = new Map<number, Pending>();
  private inFlight = 0;
  private closed = false;

  constructor(private readonly upstream: HostPort, private readonly random: () => number = Math.random) {}

  /** The upstream's answer to `query` with the client's ID, or undefined (the caller answers SERVFAIL). */
  async forward(query: Buffer, transport: 'udp' | 'tcp'): Promise<Buffer | undefined> {
    if (this.closed || this.inFlight >= MAX_FORWARDS_IN_FLIGHT) return undefined;
    this.inFlight++;
    try {
      return transport === 'udp' ? await this.viaUdp(query) : await this.viaTcp(query);
    } finally {
      this.inFlight--;
    }
  }

  close(): void {
    this.closed = true;
    this.udp?.close();
    this.udp = undefined;
    for (const p of this.pending.values()) { clearTimeout(p.timer); p.resolve(undefined); }
    this.pending.clear();
  }

  private viaUdp(query: Buffer): Promise<Buffer | undefined> {
    const socket = this.udpSocket();
    // A fresh random ID per forwarded query: answers are matched on it, and a guessable one invites spoofing.
    let id = Math.floor(this.random() * 65_536);
    for (let tries = 0; this.pending.has(id) && tries < 65_536; tries++) id = (id + 1) % 65_536;
    const clientId = query.readUInt16BE(0);
    const out = Buffer.from(query);
    out.writeUInt16BE(id, 0);
    return new Promise((resolve) => {
      const timer = setTimeout(() => { this.pending.delete(id); resolve(undefined); }, FORWARD_TIMEOUT_MS);
      timer.unref();
      this.pending.set(id, {
        timer,
        resolve: (reply) => {
          if (reply !== undefined) reply.writeUInt16BE(clientId, 0);
          resolve(reply);
        },
      });
      socket.send(out, this.upstream.port, this.upstream.host, (err) => {
        if (!err) return;
        const p = this.pending.get(id);
        if (p) { clearTimeout(p.timer); this.pending.delete(id); p.resolve(undefined); }
      });
    });
  }

  private udpSocket(): UdpSocket {
    if (this.udp) return this.udp;
    const socket = createSocket(isIPv6(this.upstream.host) ? 'udp6' : 'udp4');
    socket.on('message', (msg, rinfo) => {
      if (msg.length < 12 || rinfo.port !== this.upstream.port) return;
      const p = this.pending.get(msg.readUInt16BE(0));
      if (!p) return;
      clearTimeout(p.timer);
      this.pending.delete(msg.readUInt16BE(0));
      p.resolve(Buffer.from(msg));
    });
    socket.on('error', () => { /* a send error is reported to its callback; the socket stays usable */ });
    socket.unref();
    this.udp = socket;
    return socket;
  }

  private viaTcp(query: Buffer): Promise<Buffer | undefined> {
    return new Promise((resolve) => {
      const socket = connect({ host: this.upstream.host, port: this.upstream.port });
      let buf = Buffer.alloc(0);
      const done = (reply: Buffer | undefined) => { clearTimeout(timer); socket.destroy(); resolve(reply); };
      const timer = setTimeout(() => done(undefined), FORWARD_TIMEOUT_MS);
      timer.unref();
      socket.on('error', () => done(undefined));
      socket.on('close', () => done(undefined));
      socket.on('connect', () => {
        const len = Buffer.alloc(2);
        len.writeUInt16BE(query.length);
        socket.write(Buffer.concat([len, query]));
      });
      socket.on('data', (chunk: Buffer) => {
        buf = Buffer.concat([buf, chunk]);
        if (buf.length > MAX_TCP_RESPONSE_BYTES + 2) { done(undefined); return; }
        if (buf.length >= 2 && buf.length >= 2 + buf.readUInt16BE(0)) done(buf.subarray(2, 2 + buf.readUInt16BE(0)));
      });
    });
  }
}
