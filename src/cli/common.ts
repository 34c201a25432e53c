// Flag helpers shared by commands: the registry/proxy locations, --json, and value parsers that turn bad
// input into usage errors (exit 2) before anything is sent.
import { Option, type Command } from 'commander';
import { parseDuration } from '../core/duration.js';
import { UsageError, ValidationError } from '../core/errors.js';
import { DEFAULTS } from '../core/types.js';

export interface RegistryClientFlags {
  registry: string;
  token?: string;
  ca?: string;
}

/** --registry, --token and --ca, with defaults from MESH_REGISTRY, MESH_TOKEN and MESH_CA. */
export function addRegistryClientOptions(cmd: Command): Command {
  return cmd
    .addOption(new Option('--registry <url>', 'The registry API URL (http:// or https://).').env('MESH_REGISTRY').default(DEFAULTS.registryUrl))
    .addOption(new Option('--token <token>', 'The bearer token that mutating registry calls carry (prefer MESH_TOKEN, which ps does not show).').env('MESH_TOKEN'))
    .addOption(new Option('--ca <file>', 'The CA certificate (PEM) to trust when the registry serves TLS.').env('MESH_CA'));
}

export function addJsonOption(cmd: Command): Command {
  return cmd.option('--json', 'Print JSON instead of a table.');
}

/** Wraps a value parser so a validation failure becomes a usage error naming the flag. */
export function flagParser<T>(flag: string, parse: (value: string) => T): (value: string) => T {
  return (value: string) => {
    try {
      return parse(value);
    } catch (err) {
      if (err instanceof ValidationError) throw new UsageError(`${flag}: ${err.message}`);
      throw err;
    }
  };
}

export const durationFlag = (flag: string) => flagParser(flag, (v) => parseDuration(v, flag.replace(/^--/, '')));

export function intFlag(flag: string, min: number, max: number): (value: string) => number {
  return (value: string) => {
    if (!/^-?\d+$/.test(value) || Number(value) < min || Number(value) > max) {
      throw new UsageError(`${flag}: invalid value "${value}": use an integer from ${min} to ${max}`);
    }
    return Number(value);
  };
}

/** For repeatable flags: `--tag a=1 --tag b=2`. */
export function collect<T>(parse: (value: string) => T): (value: string, previous: T[] | undefined) => T[] {
  return (value, previous) => [...(previous ?? []), parse(value)];
}
