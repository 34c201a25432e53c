// `mesh certs ca init | issuer | rotate`, `mesh certs gen | inspect`: create the mesh CA and issuers, rotate the root, issue service certificates, read certificates back.
import { Option, type Command } from 'commander';
import { DEFAULT_CA_DAYS, DEFAULT_CA_DIR, DEFAULT_TRUST_DOMAIN } from '../../tls/ca.js';
import { validateDnsName, validateIp } from '../../tls/leaf.js';
import { validateTrustDomain } from '../../tls/spiffe.js';
import { DEFAULT_ISSUER_DAYS } from '../../tls/issuer.js';
import type { CaInitFlags, CaIssuerFlags, CaRotateFlags, GenFlags } from '../actions/certs.js';
import { addJsonOption, collect, flagParser, intFlag } from '../common.js';
import type { CommandContext } from '../context.js';

const keyTypeOption = (desc: string) => new Option('--key-type <type>', desc).choices(['ec', 'rsa']).default('ec');

export function registerCertsCommand(program: Command, ctx: CommandContext): void {
  const certs = program
    .command('certs')
    .description('Create the mesh CA, issue short-lived service certificates with SPIFFE identities, and inspect certificates.')
    .addHelpText('after', '\nExamples:\n  mesh certs ca init --dir ./mesh-ca\n  mesh certs gen orders --ca-dir ./mesh-ca --out ./certs\n  mesh certs inspect ./certs/orders.pem\n');

  const ca = certs.command('ca').description('Manage the mesh root certificate authority.')
    .addHelpText('after', '\nExample:\n  mesh certs ca init --dir ./mesh-ca --trust-domain mesh.local\n');
  addJsonOption(ca
    .command('init')
    .description('Create the mesh root CA: ca.pem (share it), ca-key.pem (mode 0600, keep it secret) and ca.json.')
    .addOption(new Option('--dir <dir>', 'The directory to write the CA into; it is created if missing.').env('MESH_CA_DIR').default(DEFAULT_CA_DIR))
    .addOption(new Option('--trust-domain <domain>', 'The SPIFFE trust domain of every identity this CA issues.').default(DEFAULT_TRUST_DOMAIN)
      .argParser(flagParser('--trust-domain', validateTrustDomain)))
    .addOption(new Option('--days <n>', 'How many days the CA certificate is valid.').default(DEFAULT_CA_DAYS).argParser(intFlag('--days', 1, 36_500)))
    .addOption(keyTypeOption('The CA key type: ec (ECDSA P-256) or rsa (RSA 2048). Service certificates follow it.'))
    .option('--force', 'Replace an existing CA in the directory (every certificate it issued stops verifying).'))
    .addHelpText('after', '\nExamples:\n  mesh certs ca init\n  mesh certs ca init --dir /etc/mesh/ca --trust-domain prod.example --key-type rsa\n')
    .action(async (opts: CaInitFlags) => (await import('../actions/certs.js')).caInit(ctx, opts));

  addJsonOption(ca
    .command('issuer')
    .description('Create an issuer: an intermediate CA signed by the root (CA:TRUE, pathlen 0, limited to spiffe://<trust-domain>/ names) that a registry daemon signs the mesh\'s short-lived certificates with (`mesh registry start --issuer <dir>`). The root key stays offline; give each registry daemon its own issuer.')
    .addOption(new Option('--ca-dir <dir>', 'The root CA directory (from `mesh certs ca init`).').env('MESH_CA_DIR').default(DEFAULT_CA_DIR))
    .requiredOption('--out <dir>', 'The directory to write the issuer into (created with mode 0700): issuer.pem, issuer-key.pem, roots.pem, issuer.json.')
    .addOption(new Option('--days <n>', 'How many days the issuer is valid (cut to end with the root).').default(DEFAULT_ISSUER_DAYS).argParser(intFlag('--days', 1, 36_500)))
    .option('--force', 'Replace an existing issuer in --out.'))
    .addHelpText('after', '\nExample:\n  mesh certs ca issuer --ca-dir ./mesh-ca --out ./issuer-a --days 90\n')
    .action(async (opts: CaIssuerFlags) => (await import('../actions/certs.js')).caIssuer(ctx, opts));

  addJsonOption(ca
    .command('rotate')
    .description('Rotate the root CA without a failed request, in three steps (see "Root rotation" in man mesh). Without --finish: create a new root in --out and add it to the trust bundle (roots.pem) of each --issuer, beside the old one. Then replace each issuer with `mesh certs ca issuer --ca-dir <new root> --force` and wait one --cert-ttl. With --finish: remove every root but --ca-dir\'s from each --issuer\'s bundle.')
    .addOption(new Option('--ca-dir <dir>', 'The current root CA directory (with --finish: the new root).').env('MESH_CA_DIR').default(DEFAULT_CA_DIR))
    .option('--out <dir>', 'Where to create the new root (not with --finish).')
    .requiredOption('--issuer <dir>', 'An issuer directory whose trust bundle changes (repeatable: name every registry\'s issuer).', collect((v: string) => v))
    .addOption(new Option('--days <n>', 'How many days the new root is valid.').default(DEFAULT_CA_DAYS).argParser(intFlag('--days', 1, 36_500)))
    .option('--finish', 'The last step: leave only the --ca-dir root in each issuer\'s trust bundle.'))
    .addHelpText('after', '\nExamples:\n  mesh certs ca rotate --ca-dir ./mesh-ca --out ./mesh-ca-2 --issuer ./issuer-a --issuer ./issuer-b\n  mesh certs ca rotate --finish --ca-dir ./mesh-ca-2 --issuer ./issuer-a --issuer ./issuer-b\n')
    .action(async (opts: CaRotateFlags) => (await import('../actions/certs.js')).caRotate(ctx, opts));

  addJsonOption(certs
    .command('gen')
    .description('Issue a certificate for a service, signed by the mesh CA, with URI SAN spiffe://<trust-domain>/service/<service>. Re-run it to rotate: files are replaced atomically and running sidecars pick them up.')
    .argument('<service>', 'The service the certificate identifies (a DNS label, e.g. orders).')
    .addOption(new Option('--ca-dir <dir>', 'The mesh CA directory (from `mesh certs ca init`).').env('MESH_CA_DIR').default(DEFAULT_CA_DIR))
    .option('--out <dir>', 'Write <service>.pem and <service>-key.pem into this directory.', '.')
    .addOption(new Option('--days <n>', 'Validity in days (default: 24 hours).').argParser(intFlag('--days', 1, 3650)).conflicts('hours'))
    .addOption(new Option('--hours <n>', 'Validity in hours (default: 24).').argParser(intFlag('--hours', 1, 87_600)))
    .option('--dns <name>', 'An extra DNS name SAN (repeatable); the service name and localhost are always included.', collect(flagParser('--dns', validateDnsName)))
    .option('--ip <addr>', 'An extra IP address SAN (repeatable); 127.0.0.1 and ::1 are always included.', collect(flagParser('--ip', validateIp)))
    .option('--self-signed', 'Issue a self-signed server certificate for plain local TLS instead (no CA, no SPIFFE ID).')
    .addOption(keyTypeOption('Key type for --self-signed certificates (CA-signed ones follow the CA).')))
    .addHelpText('after', '\nExamples:\n  mesh certs gen orders --ca-dir ./mesh-ca --out ./certs\n  mesh certs gen web --hours 8 --dns web.internal --ip 10.0.0.5\n  mesh certs gen dev-api --self-signed --out ./tls\n')
    .action(async (service: string, opts: GenFlags) => (await import('../actions/certs.js')).gen(ctx, service, opts));

  addJsonOption(certs
    .command('inspect')
    .description('Show what a certificate says: subject, SANs, SPIFFE ID, issuer, serial, validity and time left, key type and usages. Warns when less than a third of its lifetime is left.')
    .argument('<file>', 'A PEM certificate file (the first certificate of a chain is shown).'))
    .addHelpText('after', '\nExamples:\n  mesh certs inspect ./certs/orders.pem\n  mesh certs inspect ./mesh-ca/ca.pem --json\n')
    .action(async (file: string, opts: { json?: boolean }) => (await import('../actions/certs.js')).inspect(ctx, file, opts));
}
