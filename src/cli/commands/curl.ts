// `mesh curl --as <service> <url>`: one request through the mesh with that service's certificate, so a user can
// try any call as any identity. http://<service>/path finds an instance with a mesh TLS port in the registry
// and requires the server to be <service>; https://host:port/path goes straight to a sidecar.
import { Option, type Command } from 'commander';
import { UsageError } from '../../core/errors.js';
import { validateServiceName } from '../../core/validate.js';
import type { CurlFlags } from '../actions/curl.js';
import { addRegistryClientOptions, collect, flagParser, intFlag } from '../common.js';
import { helpNotes } from '../help.js';
import type { CommandContext } from '../context.js';

const parseHeader = (h: string): [string, string] => {
  const colon = h.indexOf(':');
  if (colon <= 0 || !/^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/.test(h.slice(0, colon))) throw new UsageError(`-H: invalid header "${h}": use "Name: value"`);
  return [h.slice(0, colon), h.slice(colon + 1).trim()];
};

export function registerCurlCommand(program: Command, ctx: CommandContext): void {
  addRegistryClientOptions(program
    .command('curl')
    .description('Send one HTTP request over mTLS with a service\'s certificate, as that service. http://<service>/path goes to an instance of <service> that registered a mesh TLS port and requires its SPIFFE ID; https://host:port/path goes straight to that sidecar. The response body goes to stdout.')
    .argument('<url>', 'http://<service>/path (through the registry) or https://host:port/path (direct).')
    .addOption(new Option('--as <service>', 'The identity to call as: uses <cert-dir>/<service>.pem and <service>-key.pem.').makeOptionMandatory().argParser(flagParser('--as', validateServiceName)))
    .addOption(new Option('--cert-dir <dir>', 'Where the service certificates are (from `mesh certs gen --out`).').env('MESH_CERT_DIR').default('.'))
    .option('-X, --request <method>', 'The HTTP method (default GET, or POST with -d).')
    .option('-H, --header <header>', 'A request header, "Name: value" (repeatable).', collect(parseHeader))
    .option('-d, --data <data>', 'A request body; @file reads it from a file.')
    .option('-i, --include', 'Print the status line and response headers before the body.')
    .option('-f, --fail', 'Exit 1 when the response status is 400 or more.')
    .option('-v, --verbose', 'Print who was called and the server\'s identity on stderr.')
    .option('--json', 'Print {status, headers, body, serverId} as JSON instead of the body.')
    .addOption(new Option('--max-time <seconds>', 'Give up after this many seconds.').default(10).argParser(intFlag('--max-time', 1, 3600))))
    .addHelpText('after', helpNotes('\nThe mesh CA is --ca (or MESH_CA), else $MESH_CA_DIR/ca.pem, else ./mesh-ca/ca.pem.', ctx.helpWidth))
    .addHelpText('after', '\nExamples:\n  mesh curl --as web --cert-dir ./certs http://orders/orders/42\n  mesh curl --as web --cert-dir ./certs -X POST -H \'content-type: application/json\' \\\n    -d \'{"qty":1}\' http://orders/orders\n  mesh curl --as billing --cert-dir ./certs -i https://127.0.0.1:15443/admin\n')
    .action(async (url: string, opts: CurlFlags) => (await import('../actions/curl.js')).curl(ctx, url, opts));
}
