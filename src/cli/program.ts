// The program: global options and one registration per command.
//
// How a command is written (every `mesh` call builds this whole tree, so registering must stay cheap; a
// command's code loads only when that command runs):
//   src/cli/commands/<name>.ts  registration only: name, arguments, options, help text and examples. It may
//       import commander, ../common.js and the other *-flags.ts helpers, and small validators or constants from
//       src/core (and from elsewhere only if they load no package); types with `import type`. Its action is one
//       line that loads the implementation when the command runs (the flags' type lives in the action module):
//         import type { RegisterFlags } from '../actions/register.js';
//         .action(async (service: string, opts: RegisterFlags) =>
//           (await import('../actions/register.js')).register(ctx, service, opts));
//   src/cli/actions/<name>.ts   the implementation: validate → call the domain → render. It may import anything,
//       including the registry client (../registry-client.js), the proxy, TLS, etcd, renderers and chalk.
// A subcommand (`mesh registry repair`) adds its registration to commands/registry.ts and its exported function
// (ctx first, then the arguments and flags commander passes) to actions/registry.ts.
// Help: examples are written to fit in 100 columns; prose after the options goes through
// helpNotes(text, ctx.helpWidth) so it wraps to the terminal (help.ts).
// test/integration/cli-startup.test.ts fails when `mesh --version` or any `--help` loads an action module or a
// heavy package (undici, etcd3, ink, yaml, …); test/unit/cli/help-conventions.test.ts checks help widths.
import { Command } from 'commander';
import type { Io } from './io.js';
import type { CommandContext } from './context.js';
import { helpWidth } from './help.js';
import { meshVersion } from './version.js';
// -- command imports (one line each; keep sorted) --
import { registerAuthzCommand } from './commands/authz.js';
import { registerCertsCommand } from './commands/certs.js';
import { registerCheckCommand } from './commands/check.js';
import { registerConfigCommand } from './commands/config.js';
import { registerCurlCommand } from './commands/curl.js';
import { registerDemoCommand } from './commands/demo.js';
import { registerDeregisterCommand } from './commands/deregister.js';
import { registerFaultCommand } from './commands/fault.js';
import { registerProxyCommand } from './commands/proxy.js';
import { registerRegisterCommand } from './commands/register.js';
import { registerRegistryCommand } from './commands/registry.js';
import { registerRoutesCommand } from './commands/routes.js';
import { registerRunCommand } from './commands/run.js';
import { registerServicesCommand } from './commands/services.js';
import { registerShiftCommand } from './commands/shift.js';
import { registerTokenCommand } from './commands/token.js';
import { registerTopCommand } from './commands/top.js';
import { registerTraceCommand } from './commands/trace.js';
// -- end command imports --

/**
 * Commander stops wrapping a flag's description when fewer than 40 columns are left beside the flag, which
 * makes help on a 70-column terminal wider than on a wide one; wrap down to 20.
 */
const MIN_DESCRIPTION_WIDTH = 20;

export function buildProgram(io: Io): Command {
  const width = helpWidth(io);
  const program = new Command('mesh')
    .description('A service mesh in one command-line tool: discovery, load-balancing proxy, mTLS and monitoring.')
    .version(meshVersion(), '-V, --version')
    .option('--debug', 'Print stack traces with errors (same as MESH_DEBUG=1).')
    .showSuggestionAfterError(true)
    .configureHelp({ minWidthToWrap: MIN_DESCRIPTION_WIDTH })
    .exitOverride()
    .configureOutput({
      writeOut: (s) => io.out(s),
      writeErr: (s) => io.err(s),
      getOutHelpWidth: () => width,
      getErrHelpWidth: () => width,
      // One line: what is wrong and where to read how to fix it.
      outputError: (s, write) => write(`mesh: ${s.replace(/^error: /, '').trim()} (see --help)\n`),
    });
  const ctx: CommandContext = { io, helpWidth: width };
  // -- command registrations (one line each) --
  registerRegistryCommand(program, ctx);
  registerRegisterCommand(program, ctx);
  registerDeregisterCommand(program, ctx);
  registerServicesCommand(program, ctx);
  registerRunCommand(program, ctx);
  registerCertsCommand(program, ctx);
  registerAuthzCommand(program, ctx);
  registerCurlCommand(program, ctx);
  registerRoutesCommand(program, ctx);
  registerProxyCommand(program, ctx);
  registerTopCommand(program, ctx);
  registerTraceCommand(program, ctx);
  registerDemoCommand(program, ctx);
  registerCheckCommand(program, ctx);
  registerConfigCommand(program, ctx);
  registerFaultCommand(program, ctx);
  registerShiftCommand(program, ctx);
  registerTokenCommand(program, ctx);
  // -- end command registrations --
  // Every subcommand inherits the error handling above.
  applyToAll(program, (cmd) => {
    cmd.exitOverride().showSuggestionAfterError(true).configureOutput(program.configureOutput());
    cmd.configureHelp({ ...cmd.configureHelp(), minWidthToWrap: MIN_DESCRIPTION_WIDTH });
  });
  return program;
}

function applyToAll(cmd: Command, fn: (c: Command) => void): void {
  for (const sub of cmd.commands) {
    fn(sub);
    applyToAll(sub, fn);
  }
}
