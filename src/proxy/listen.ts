// Binding the proxy's listeners (outbound, admin, inbound sidecar, inbound admin) the same way everywhere:
// host:port with port 0 allowed, a bad address as a usage error naming the flag, a bind failure as MESH_ERR_LISTEN.
import type { AddressInfo, Server } from 'node:net';
import { MeshError, UsageError } from '../core/errors.js';
import { formatHostPort, parseListenAddress } from '../core/validate.js';

/** Listens on `address` and resolves with the address actually bound (the real port when 0 was asked). */
export function listenOn(server: Server, address: string, flag: string): Promise<string> {
  let host: string;
  let port: number;
  try {
    ({ host, port } = parseListenAddress(address, flag));
  } catch (err) {
    throw new UsageError(`${flag}: ${(err as Error).message}`);
  }
  return new Promise((resolve, reject) => {
    const onError = (err: NodeJS.ErrnoException) => {
      reject(new MeshError('MESH_ERR_LISTEN', `cannot listen on ${address} (${flag}): ${err.code ?? err.message}`));
    };
    server.once('error', onError);
    server.listen({ host, port, backlog: 1024 }, () => {
      server.off('error', onError);
      const bound = server.address() as AddressInfo;
      resolve(formatHostPort(bound.address, bound.port));
    });
  });
}
