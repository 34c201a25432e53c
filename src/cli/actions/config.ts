// The actions of `mesh config …` and `mesh authz apply`, loaded only when one of them runs. Each reads its
// input, validates it locally with the same schema the registry and the proxies use (so a bad file is refused
// with its name and field before anything is sent), makes one registry call and renders the answer.
import { readFile, stat } from 'node:fs/promises';
import { parse as parseYaml } from 'yaml';
import { PolicyFormatError, policyFromDocument } from '../../authz/load.js';
import { MAX_CENTRAL_BYTES } from '../../config/central.js';
import { parseConfig } from '../../config/proxy-config.js';
import { MeshError, ValidationError } from '../../core/errors.js';
import { validateServiceName } from '../../core/validate.js';
import type { ConfigWriteResponse } from '../../registry/client.js';
import type { Io } from '../io.js';
import type { CommandContext } from '../context.js';
import { flagParser, type RegistryClientFlags } from '../common.js';
import { registryClient } from '../registry-client.js';
import { renderConfig, renderEntry, renderHistory, renderWrite } from '../render/config.js';
import { renderJson } from '../render/routes.js';

/** The flags of `mesh config …` and `mesh authz apply` (registered in ../commands/config.ts and authz.ts). */
export interface ConfigFlags extends RegistryClientFlags { json?: boolean; file?: string; dryRun?: boolean }

async function withClient<T>(flags: ConfigFlags, fn: (c: ReturnType<typeof registryClient>) => Promise<T>): Promise<T> {
  const client = registryClient(flags);
  try {
    return await fn(client);
  } finally {
    await client.close();
  }
}

/** Reads a YAML or JSON document, refusing a file too large for the central config before parsing it. */
export async function readDocument(file: string): Promise<unknown> {
  let size: number;
  try {
    size = (await stat(file)).size;
  } catch (err) {
    throw new MeshError('MESH_ERR_CONFIG_INVALID', `cannot read ${file}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`, { hint: 'pass an existing file to -f' });
  }
  if (size > MAX_CENTRAL_BYTES) {
    throw new MeshError('MESH_ERR_CONFIG_INVALID', `${file} is ${size} bytes; the central config holds at most ${MAX_CENTRAL_BYTES}`, { hint: 'apply the services in smaller documents, or drop unused entries' });
  }
  const text = await readFile(file, 'utf8');
  try {
    return (/\.json$/i.test(file) ? JSON.parse(text) : parseYaml(text)) ?? {};
  } catch (err) {
    throw new MeshError('MESH_ERR_CONFIG_INVALID', `${file} does not parse: ${(err as Error).message.split('\n')[0]}`);
  }
}

/** The registry's refusal of a document, told as a problem with the file (exit 1), not with the command line. */
function refused(file: string, err: unknown): unknown {
  if (err instanceof MeshError && err.code === 'MESH_ERR_INVALID_ARGUMENT') return new MeshError('MESH_ERR_CONFIG_INVALID', `${file}: ${err.message} (nothing applied)`);
  return err;
}

function printWrite(io: Io, r: ConfigWriteResponse, json: boolean | undefined): void {
  for (const w of r.warnings) io.err(`mesh: warning: ${w}\n`);
  io.out(json ? renderJson(r) : renderWrite(r));
}

export async function configApply({ io }: CommandContext, flags: ConfigFlags, part: 'proxy' | 'authz'): Promise<void> {
  const file = flags.file!;
  const doc = await readDocument(file);
  try {
    if (part === 'proxy') parseConfig(doc);
    else policyFromDocument(doc);
  } catch (err) {
    if (err instanceof ValidationError) throw new MeshError('MESH_ERR_CONFIG_INVALID', `${file}: ${err.message} (nothing applied)`);
    if (err instanceof PolicyFormatError) throw new MeshError('MESH_ERR_CONFIG_INVALID', `${file}: ${err.message} (nothing applied)`);
    throw err;
  }
  const r = await withClient(flags, (c) => c.applyConfig({ [part]: doc }, { dryRun: flags.dryRun === true }).catch((err: unknown) => { throw refused(file, err); }));
  printWrite(io, r, flags.json);
}

export async function configGet({ io }: CommandContext, service: string | undefined, flags: ConfigFlags): Promise<void> {
  if (service !== undefined) flagParser('[service]', validateServiceName)(service);
  await withClient(flags, async (c) => {
    if (service === undefined) {
      const r = await c.config();
      io.out(flags.json ? renderJson(r) : renderConfig(r));
    } else {
      const r = await c.configEntry(service);
      io.out(flags.json ? renderJson(r) : renderEntry(service, r.version, r.entry));
    }
  });
}

export async function configHistory({ io }: CommandContext, flags: ConfigFlags): Promise<void> {
  const r = await withClient(flags, (c) => c.configHistory());
  io.out(flags.json ? renderJson(r) : renderHistory(r.versions));
}

export async function configRollback({ io }: CommandContext, version: number, flags: ConfigFlags): Promise<void> {
  printWrite(io, await withClient(flags, (c) => c.rollbackConfig(version)), flags.json);
}

export async function configDelete({ io }: CommandContext, service: string, flags: ConfigFlags): Promise<void> {
  flagParser('<service>', validateServiceName)(service);
  printWrite(io, await withClient(flags, (c) => c.deleteConfigEntry(service)), flags.json);
}
