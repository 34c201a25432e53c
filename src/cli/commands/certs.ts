// `mesh certs ca init | gen | inspect`: create the mesh CA, issue service certificates, read certificates back.
import { Option, type Command } from 'commander';
import { DEFAULT_CA_DAYS, DEFAULT_CA_DIR, DEFAULT_TRUST_DOMAIN } from '../../tls/ca.js';
import { validateDnsName, validateIp } from '../../tls/leaf.js';
import { validateTrustDomain } from '../../tls/spiffe.js';
import type { CaInitFlags, GenFlags } from '../actions/certs.js';
import { addJsonOption, collect, flagParser, intFlag } from '../common.js';
import type { CommandContext } from '../program.js';

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
