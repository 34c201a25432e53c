// The DNS front end's transport: one UDP socket and one TCP listener on the same address, each query read
// (message.ts), resolved (resolve.ts) or forwarded (forward.ts), and answered within the transport's size
// limit. Work per packet is bounded (limits.ts); nothing is logged per query, only counted (counters.ts).
import { createSocket, type RemoteInfo, type Socket as UdpSocket } from 'node:dgram';
import { lookup, type LookupOneOptions } from 'node:dns';
import { createServer, isIP, isIPv6, type Server, type Socket } from 'node:net';
import { MeshError } from '../../core/errors.js';
import type { HostPort } from '../../core/validate.js';
import type { WatchHub } from '../catalogue/watch-hub.js';
import { DnsCatalogue } from './catalogue.js';
import { DnsCounters, type Transport } from './counters.js';
import { Forwarder } from './forward.js';
import { MAX_QUERY_BYTES, MAX_TCP_CONNECTIONS, MAX_TCP_RESPONSE_BYTES, TCP_IDLE_MS, TCP_MAX_UNSENT_BYTES } from './limits.js';
import { bareReply, encodeReply, readQuery, udpLimit, type Query, type Reply } from './message.js';
import { OUTSIDE, Resolver, type ResolveSettings } from './resolve.js';

/** What `mesh registry start --dns…` configures. */
export interface DnsSettings extends ResolveSettings {
  listen: HostPort;
  /** Where names outside the domain are forwarded; absent: they are REFUSED. */
  recursor?: HostPort;
}

export interface DnsServerOptions extends DnsSettings {
  hub: WatchHub;
  /** Shared with the registry's /v1/metrics. */
  counters?: DnsCounters;
  random?: () => number;
}

export class DnsServer {
  readonly counters: DnsCounters;
  private readonly catalogue: DnsCatalogue;
  private readonly resolver: Resolver;
  private readonly forwarder: Forwarder | undefined;
  private readonly udp: UdpSocket;
  private readonly tcp: Server;
  private readonly connections = new Set<Socket>();
  private bound: HostPort | undefined;
  private closed = false;

  private constructor(opts: DnsServerOptions) {
    this.counters = opts.counters ?? new DnsCounters();
    this.catalogue = new DnsCatalogue(opts.hub);
    this.resolver = new Resolver(this.catalogue, opts, opts.random);
    this.forwarder = opts.recursor === undefined ? undefined : new Forwarder(opts.recursor, opts.random);
    // Answers go back to the address a query came from, always an IP literal: a lookup that hands it straight
    // back spares every send dgram's default dns.lookup round through the next tick.
    this.udp = createSocket({ type: isIPv6(opts.listen.host) ? 'udp6' : 'udp4', lookup: literalLookup });
    this.udp.on('message', (msg, rinfo) => this.onDatagram(msg, rinfo));
    this.udp.on('error', () => { /* per-send errors (an unreachable client) must not stop the socket */ });
    this.tcp = createServer({ noDelay: true }, (socket) => this.onConnection(socket));
  }

  /** Binds UDP and TCP to the same address (port 0: one free port for both) and starts answering. */
  static async start(opts: DnsServerOptions): Promise<DnsServer> {
    for (let attempt = 0; ; attempt++) {
      const server = new DnsServer(opts);
      try {
        await server.bind(opts.listen);
        return server;
      } catch (err) {
        await server.close();
        // Port 0: the port UDP got may be taken for TCP; another free pair is a retry away.
        if (opts.listen.port !== 0 || attempt >= 4 || (err as MeshError).cause === undefined) throw err;
        if (((err as MeshError).cause as NodeJS.ErrnoException).code !== 'EADDRINUSE') throw err;
      }
    }
  }

  get address(): HostPort {
    return this.bound!;
  }

  async close(): Promise<void> {
    this.closed = true;
    this.catalogue.close();
    this.forwarder?.close();
    for (const s of this.connections) s.destroy();
    await Promise.all([
      new Promise<void>((resolve) => { try { this.udp.close(() => resolve()); } catch { resolve(); } }),
      new Promise<void>((resolve) => this.tcp.close(() => resolve())),
    ]);
  }

  private async bind(listen: HostPort): Promise<void> {
    const fail = (proto: string) => (err: NodeJS.ErrnoException) => {
      const why = err.code === 'EADDRINUSE' ? 'the address is already in use' : err.code === 'EACCES' ? 'permission denied (ports below 1024 need privileges)' : err.message;
      return new MeshError('MESH_ERR_LISTEN', `cannot serve DNS on ${proto} ${listen.host}:${listen.port}: ${why}`, { cause: err, hint: 'pass another --dns address or stop the process that holds it' });
    };
    await new Promise<void>((resolve, reject) => {
      this.udp.once('error', (err) => reject(fail('udp')(err)));
      this.udp.bind(listen.port, listen.host, () => resolve());
    });
    const port = this.udp.address().port;
    // A burst of queries queues in the kernel rather than being dropped while an answer is being written (the
    // kernel caps this at net.core.rmem_max; the memory is the kernel's and bounded either way).
    try { this.udp.setRecvBufferSize(4 * 1024 * 1024); } catch { /* keep the default */ }
    await new Promise<void>((resolve, reject) => {
      this.tcp.once('error', (err) => reject(fail('tcp')(err)));
      this.tcp.listen(port, listen.host, () => resolve());
    });
    this.bound = { host: listen.host, port };
  }

  private onDatagram(msg: Buffer, rinfo: RemoteInfo): void {
    // A forwarded query can come back after close(); a send on a closed socket would throw.
    this.answer(msg, 'udp', (reply) => { if (!this.closed) this.udp.send(reply, rinfo.port, rinfo.address); });
  }

  /** Reads, resolves and answers one message; `send` gets the encoded answer (never called for a drop). */
  private answer(msg: Buffer, transport: Transport, send: (reply: Buffer) => void): void {
    const read = readQuery(msg);
    if (read.kind === 'drop') { this.counters.dropped[read.reason]++; return; }
    if (read.kind === 'reject') { this.counters.answer(transport, read.rcode); send(read.reply); return; }
    const query = read.query;
    const limit = transport === 'udp' ? udpLimit(query) : MAX_TCP_RESPONSE_BYTES;
    const ra = this.forwarder !== undefined;
    const q = query.question;
    if (query.edns !== undefined && query.edns.version > 0) return this.reply(query, bareReply('BADVERS', ra), transport, limit, send);
    // Other classes (CH's version.bind …) and zone transfers are not something mesh serves.
    if ((q.class !== 'IN' && q.class !== 'ANY') || q.type === 'AXFR' || q.type === 'IXFR') return this.reply(query, bareReply('REFUSED', ra), transport, limit, send);
    const resolution = this.resolver.resolve(q);
    if (resolution === OUTSIDE) {
      if (this.forwarder === undefined) return this.reply(query, bareReply('REFUSED', false), transport, limit, send);
      this.forwardQuery(msg, query, transport, limit, send);
      return;
    }
    this.reply(query, { ...resolution, authoritative: true, recursionAvailable: ra }, transport, limit, send);
  }

  private reply(query: Query, reply: Reply, transport: Transport, limit: number, send: (reply: Buffer) => void): void {
    const { bytes, truncated } = encodeReply(query, reply, limit);
    if (truncated && transport === 'udp') this.counters.truncated++;
    this.counters.answer(transport, reply.rcode);
    send(bytes);
  }

  private forwardQuery(msg: Buffer, query: Query, transport: Transport, limit: number, send: (reply: Buffer) => void): void {
    void this.forwarder!.forward(msg, transport).then((upstream) => {
      if (upstream === undefined) {
        this.counters.forwarded.failed++;
        this.reply(query, bareReply('SERVFAIL', true), transport, limit, send);
        return;
      }
      this.counters.forwarded.answered++;
      this.counters.answer(transport, rcodeOf(upstream));
      send(upstream);
    });
  }

  private onConnection(socket: Socket): void {
    if (this.connections.size >= MAX_TCP_CONNECTIONS) {
      this.counters.tcpClosed.limit++;
      socket.destroy();
      return;
    }
    this.connections.add(socket);
    this.counters.tcpOpen++;
    let buf: Buffer = Buffer.alloc(0);
    // The idle clock restarts only when a whole query has arrived: trickling bytes does not keep a slot.
    let idle: NodeJS.Timeout;
    const armIdle = () => {
      clearTimeout(idle);
      idle = setTimeout(() => { this.counters.tcpClosed.idle++; socket.destroy(); }, TCP_IDLE_MS);
      idle.unref();
    };
    armIdle();
    const send = (reply: Buffer) => {
      if (socket.destroyed) return;
      const len = Buffer.alloc(2);
      len.writeUInt16BE(reply.length);
      socket.write(Buffer.concat([len, reply]));
      // A client that sends queries but does not read the answers: stop reading until it catches up.
      if (socket.writableLength > TCP_MAX_UNSENT_BYTES) socket.pause();
    };
    socket.on('drain', () => socket.resume());
    socket.on('data', (chunk: Buffer) => {
      buf = buf.length === 0 ? chunk : Buffer.concat([buf, chunk]);
      while (buf.length >= 2) {
        const len = buf.readUInt16BE(0);
        if (len > MAX_QUERY_BYTES) {
          // No query is that long; reading on would only buffer whatever the client sends.
          this.counters.tcpClosed.oversize++;
          socket.destroy();
          return;
        }
        if (buf.length < 2 + len) break;
        const msg = buf.subarray(2, 2 + len);
        buf = buf.subarray(2 + len);
        armIdle();
        this.answer(msg, 'tcp', send);
        if (socket.destroyed) return;
      }
    });
    socket.on('error', () => { /* reset by the client: 'close' follows */ });
    socket.on('close', () => {
      clearTimeout(idle);
      this.connections.delete(socket);
      this.counters.tcpOpen--;
    });
  }
}

/** dns.lookup, answered at once for an IP literal (a --dns host name still resolves the usual way at bind). */
function literalLookup(address: string, options: LookupOneOptions, callback: (err: NodeJS.ErrnoException | null, address: string, family: number) => void): void {
  const literal = isIP(address);
  if (literal !== 0) callback(null, address, literal);
  else lookup(address, options, callback);
}

function rcodeOf(reply: Buffer): 'NOERROR' | 'FORMERR' | 'SERVFAIL' | 'NXDOMAIN' | 'NOTIMP' | 'REFUSED' {
  const names = ['NOERROR', 'FORMERR', 'SERVFAIL', 'NXDOMAIN', 'NOTIMP', 'REFUSED'] as const;
  return names[reply.length >= 4 ? reply.readUInt16BE(2) & 0xf : 2] ?? 'SERVFAIL';
}
