// --proxy: where a proxy's admin API listens (default MESH_PROXY, else http://127.0.0.1:15000).
import { Option, type Command } from 'commander';
import { DEFAULTS } from '../core/types.js';
import { normaliseAdminUrl } from '../metrics/admin-client.js';
import { flagParser } from './common.js';

export const proxyUrlFlag = flagParser('--proxy', normaliseAdminUrl);

export function addProxyOption(cmd: Command): Command {
  return cmd.addOption(
    new Option('--proxy <url>', 'URL of the proxy\'s admin API (its --admin address)').env('MESH_PROXY').default(DEFAULTS.proxyAdminUrl).argParser(proxyUrlFlag),
  );
}
