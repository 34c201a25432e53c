// One TCP connect to host:port, closed at once: the shared primitive behind the registry's TCP health check and
// the proxy's reachability prober (neither side may import the other's internals, so it lives in core).
import { connect } from 'node:net';
import { parseHostPort } from './validate.js';

/** Resolves once `address` accepts a connection; rejects with the socket error, a timeout or the abort. */
export function tcpConnect(address: string, timeoutMs: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    let host: string;
    let port: number;
    try { ({ host, port } = parseHostPort(address, 'tcp check')); } catch (err) {
      reject(err);
      return;
    }
    const socket = connect({ host, port });
    const finish = (err?: Error) => {
      clearTimeout(timer);
      signal?.removeEventListener('abort', onAbort);
      socket.destroy();
      if (err) reject(err); else resolve();
    };
    const onAbort = () => finish(new TcpConnectError('check aborted'));
    const timer = setTimeout(() => finish(new TcpConnectError(`connect timeout after ${timeoutMs} ms`)), timeoutMs);
    signal?.addEventListener('abort', onAbort, { once: true });
    socket.once('connect', () => finish());
    socket.once('error', (err) => finish(err));
  });
}

/** A connect that ended without a socket error of its own (timeout, abort): the message is the whole story. */
export class TcpConnectError extends Error {
  override readonly name = 'TcpConnectError';
}
