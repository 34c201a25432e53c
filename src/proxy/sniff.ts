// Permissive mode serves TLS and plaintext on one port by looking at the first byte (0x16 opens a TLS
// handshake). Node has no peek: the first chunk has been read by then, and a TLSSocket built on a native
// socket reads from the handle, not from the JS buffer, so unshift() would lose it. The TLS side therefore gets
// this small Duplex that replays the first chunk and then relays the socket (Node wraps it in a JS stream).
import { Duplex } from 'node:stream';
import { Socket } from 'node:net';

export const TLS_HANDSHAKE = 0x16;

export class PrefixedSocket extends Duplex {
  readonly remoteAddress: string | undefined;
  readonly remotePort: number | undefined;

  constructor(private readonly socket: Socket, first: Buffer) {
    super();
    this.remoteAddress = socket.remoteAddress;
    this.remotePort = socket.remotePort;
    this.push(first);
    socket.on('data', (d: Buffer) => { if (!this.push(d)) socket.pause(); });
    socket.on('end', () => this.push(null));
    socket.on('error', (err) => this.destroy(err));
    socket.on('close', () => this.destroy());
  }

  override _read(): void {
    this.socket.resume();
  }

  override _write(chunk: Buffer, _enc: BufferEncoding, cb: (err?: Error | null) => void): void {
    this.socket.write(chunk, cb);
  }

  override _final(cb: (err?: Error | null) => void): void {
    this.socket.end(() => cb());
  }

  override _destroy(err: Error | null, cb: (err?: Error | null) => void): void {
    this.socket.destroy();
    cb(err);
  }
}

/**
 * Whether the raw connection under a server-side TLS socket closed without sending a byte: a TCP connect and
 * close (the reachability prober of an outbound proxy, a registry --check-tcp health check, a port scan), not a
 * TLS client. Node reports it as a failed handshake (ECONNRESET), which it is not.
 */
export function sentNothing(s: Socket): boolean {
  const raw = (s as unknown as { _parent?: unknown })._parent;
  return raw instanceof Socket && raw.bytesRead === 0;
}

/**
 * The client address of a TLS socket: its own, or once it is closed its raw socket's (which keeps the address
 * it was asked for while open), or for a TLS socket built on a PrefixedSocket (whose own remoteAddress is
 * unknown) ours — Node 20 wraps the Duplex in an internal JSStreamSocket, reachable from the live TLS socket's
 * handle, whose `stream` is the PrefixedSocket.
 */
export function remoteAddressOf(s: Socket): string | undefined {
  if (s.remoteAddress !== undefined) return s.remoteAddress;
  const internals = s as unknown as { _parent?: unknown; _handle?: { _parentWrap?: { stream?: unknown } } | null };
  if (internals._parent instanceof Socket || internals._parent instanceof PrefixedSocket) return internals._parent.remoteAddress;
  const raw = internals._handle?._parentWrap?.stream;
  return raw instanceof PrefixedSocket ? raw.remoteAddress : undefined;
}
