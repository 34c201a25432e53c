// The program: global options and one registration per command. Commands live in ./commands, one file each.
import { Command } from 'commander';
import type { Io } from './io.js';
// -- command imports (one line each; keep sorted) --
import { registerAuthzCommand } from './commands/authz.js';
import { registerCertsCommand } from './commands/certs.js';
import { registerCheckCommand } from './commands/check.js';
import { registerCurlCommand } from './commands/curl.js';
import { registerDemoCommand } from './commands/demo.js';
import { registerDeregisterCommand } from './commands/deregister.js';
import { registerProxyCommand } from './commands/proxy.js';
import { registerRegisterCommand } from './commands/register.js';
import { registerRegistryCommand } from './commands/registry.js';
import { registerRoutesCommand } from './commands/routes.js';
import { registerRunCommand } from './commands/run.js';
import { registerServicesCommand } from './commands/services.js';
import { registerTokenCommand } from './commands/token.js';
import { registerTopCommand } from './commands/top.js';
// -- end command imports --

export interface CommandContext {
  io: Io;
}

export function buildProgram(io: Io): Command {
  const program = new Command('mesh')
    .description('A service mesh in one command-line tool: discovery, load-balancing proxy, mTLS and monitoring.')
    .version(process.env.npm_package_version ?? '0.1.0', '-V, --version')
    .option('--debug', 'Print stack traces with errors (same as MESH_DEBUG=1).')
    .showSuggestionAfterError(true)
    .exitOverride()
    .configureOutput({
      writeOut: (s) => io.out(s),
      writeErr: (s) => io.err(s),
      // One line: what is wrong and where to read how to fix it.
      outputError: (s, write) => write(`mesh: ${s.replace(/^error: /, '').trim()} (see --help)\n`),
    });
  const ctx: CommandContext = { io };
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
  registerDemoCommand(program, ctx);
  registerCheckCommand(program, ctx);
  registerTokenCommand(program, ctx);
  // -- end command registrations --
  // Every subcommand inherits the error handling above.
  applyToAll(program, (cmd) => {
    cmd.exitOverride().showSuggestionAfterError(true).configureOutput(program.configureOutput());
  });
  void ctx;
  return program;
}

function applyToAll(cmd: Command, fn: (c: Command) => void): void {
  for (const sub of cmd.commands) {
    fn(sub);
    applyToAll(sub, fn);
  }
}
