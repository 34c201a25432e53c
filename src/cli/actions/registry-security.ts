// The `mesh registry start` security flags turned into the daemon's authorize hook and TLS material, with the
// loud warning for an open API on a non-loopback address. (The flags themselves are ../registry-security.ts.)
import type { IncomingMessage } from 'node:http';
import { MeshError, UsageError } from '../../core/errors.js';
import { parseListenAddress } from '../../core/validate.js';
import { bearerTokenAuthorizer, isLoopbackHost, readTokenFile } from '../../registry/api/auth.js';
import { parsePrivateKey, readCertificates, readTextFile } from '../../tls/files.js';
import type { RegistrySecurityFlags } from '../registry-security.js';

export interface RegistrySecurity {
  authorize?: (req: IncomingMessage) => void;
  tls?: { cert: string; key: string };
}

export function registrySecurity(flags: RegistrySecurityFlags, listen: string, env: NodeJS.ProcessEnv, warn: (line: string) => void): RegistrySecurity {
  const out: RegistrySecurity = {};
  const token = flags.tokenFile !== undefined ? readTokenFile(flags.tokenFile, warn) : env.MESH_TOKEN || undefined;
  if (token !== undefined) out.authorize = bearerTokenAuthorizer(token);
  if ((flags.tlsCert === undefined) !== (flags.tlsKey === undefined)) throw new UsageError('--tls-cert and --tls-key go together: pass both or neither');
  if (flags.tlsCert !== undefined && flags.tlsKey !== undefined) {
    const [cert] = readCertificates(flags.tlsCert, 'TLS certificate');
    const keyPem = readTextFile(flags.tlsKey, 'TLS key');
    if (!cert!.checkPrivateKey(parsePrivateKey(keyPem, flags.tlsKey, 'TLS key'))) {
      throw new MeshError('MESH_ERR_TLS', `TLS key "${flags.tlsKey}" does not match certificate "${flags.tlsCert}"`);
    }
    out.tls = { cert: readTextFile(flags.tlsCert, 'TLS certificate'), key: keyPem };
  }
  let host = '';
  try { host = parseListenAddress(listen).host; } catch { /* the daemon reports a bad address */ }
  if (host !== '' && !isLoopbackHost(host)) {
    if (token === undefined) {
      warn(`mesh registry: WARNING: listening on ${listen} without a token: anyone who can reach this address can register, deregister and redirect traffic. Pass --token-file or set MESH_TOKEN.`);
    } else if (out.tls === undefined) {
      warn(`mesh registry: warning: listening on ${listen} without TLS: the token crosses the network in clear text. Pass --tls-cert and --tls-key.`);
    }
  }
  return out;
}
