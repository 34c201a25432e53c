// `mesh token create | list | revoke`: bootstrap tokens, which a workload exchanges once for its first
// certificate (MESH_IDENTITY_TOKEN). Changing and listing tokens needs the registry's admin token (--token).
import { Option, type Command } from 'commander';
import { validateServiceName } from '../../core/validate.js';
import type { TokenCreateFlags, TokenListFlags } from '../actions/token.js';
import { addJsonOption, addRegistryClientOptions, durationFlag, flagParser, intFlag } from '../common.js';
import type { CommandContext } from '../context.js';

export function registerTokenCommand(program: Command, ctx: CommandContext): void {
  const token = program
    .command('token')
    .description('Manage bootstrap tokens: the one-time credential a workload trades for its first certificate from a registry started with --issuer.')
    .addHelpText('after', '\nExamples:\n  mesh token create --service web --uses 1\n  mesh token list\n  mesh token revoke 3f9a0c1b2d4e\n');

  addJsonOption(addRegistryClientOptions(token
    .command('create')
    .description('Create a token that authorises certificates for exactly one service. Prints the secret once on stdout (the registry stores only its hash); details go to stderr.')
    .requiredOption('--service <name>', 'The service the token authorises (its certificates carry spiffe://<trust-domain>/service/<name>).', flagParser('--service', validateServiceName))
    .addOption(new Option('--ttl <duration>', 'How long the token can be used for a first certificate (default 24h). Certificates it authorised keep renewing after that.').argParser(durationFlag('--ttl')))
    .addOption(new Option('--uses <n>', 'How many first certificates it may authorise (default: unlimited). Use 1 for a single workload.').argParser(intFlag('--uses', 1, 1_000_000)))))
    .addHelpText('after', '\nExamples:\n  mesh token create --service web --ttl 1h --uses 1\n  export MESH_IDENTITY_TOKEN=$(mesh token create --service web --uses 1)\n')
    .action(async (opts: TokenCreateFlags) => (await import('../actions/token.js')).tokenCreate(ctx, opts));

  addJsonOption(addRegistryClientOptions(token
    .command('list')
    .description('List the bootstrap tokens: id, service, uses, expiry and state (active, expired, used-up, revoked). Secrets are never shown.')))
    .addHelpText('after', '\nExample:\n  mesh token list --json\n')
    .action(async (opts: TokenListFlags) => (await import('../actions/token.js')).tokenList(ctx, opts));

  addJsonOption(addRegistryClientOptions(token
    .command('revoke')
    .description('Revoke a token: it authorises no more certificates, and the workloads it authorised can no longer renew. Certificates already issued stay valid until they expire (at most --cert-ttl).')
    .argument('<id>', 'The token id (12 hex digits, as `mesh token list` shows).')))
    .addHelpText('after', '\nExample:\n  mesh token revoke 3f9a0c1b2d4e\n')
    .action(async (id: string, opts: TokenListFlags) => (await import('../actions/token.js')).tokenRevoke(ctx, id, opts));
}
