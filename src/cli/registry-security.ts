// `mesh registry start --token-file/--tls-cert/--tls-key`: the flags that lock the registry API. What they turn
// into (the daemon's authorize hook and TLS material) is actions/registry-security.ts.
import { Option, type Command } from 'commander';

export interface RegistrySecurityFlags { tokenFile?: string; tlsCert?: string; tlsKey?: string }

export function addRegistrySecurityOptions(cmd: Command): Command {
  return cmd
    .addOption(new Option('--token-file <file>', 'Require "Authorization: Bearer <token>" on every mutating API call, with the token read from this file (or set MESH_TOKEN). Reads stay open.').env('MESH_TOKEN_FILE'))
    .addOption(new Option('--tls-cert <file>', 'Serve the API over HTTPS with this PEM certificate (e.g. from `mesh certs gen registry`); needs --tls-key.'))
    .addOption(new Option('--tls-key <file>', 'The private key of --tls-cert.'));
}
