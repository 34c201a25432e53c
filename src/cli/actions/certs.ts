// What `mesh certs ca init | gen | inspect` do once their flags are parsed (registered in ../commands/certs.ts).
import chalk from 'chalk';
import { UsageError } from '../../core/errors.js';
import { initCa, loadCa, type KeyType } from '../../tls/ca.js';
import { DEFAULT_LEAF_LIFETIME_MS, issueLeaf, issueSelfSigned, writeLeaf } from '../../tls/leaf.js';
import { validateServiceName } from '../../core/validate.js';
import { flagParser } from '../common.js';
import type { CommandContext } from '../program.js';
import { genView, renderCaInit, renderGen, renderInspectTable, renderJson } from '../render/certs.js';

export interface CaInitFlags { dir: string; trustDomain: string; days: number; keyType: KeyType; force?: boolean; json?: boolean }
export interface GenFlags {
  caDir: string; out: string; days?: number; hours?: number; dns?: string[]; ip?: string[]; selfSigned?: boolean; keyType: KeyType; json?: boolean;
}

export async function caInit(ctx: CommandContext, opts: CaInitFlags): Promise<void> {
  const result = await initCa({ dir: opts.dir, trustDomain: opts.trustDomain, days: opts.days, keyType: opts.keyType, force: opts.force === true });
  ctx.io.out(opts.json ? renderJson(result) : renderCaInit(result));
}

export async function gen(ctx: CommandContext, serviceArg: string, opts: GenFlags): Promise<void> {
  const service = flagParser('<service>', validateServiceName)(serviceArg);
  const lifetimeMs = opts.days !== undefined ? opts.days * 86_400_000 : opts.hours !== undefined ? opts.hours * 3_600_000 : DEFAULT_LEAF_LIFETIME_MS;
  const leafOpts = { service, lifetimeMs, dns: opts.dns ?? [], ip: opts.ip ?? [] };
  const issued = opts.selfSigned
    ? await issueSelfSigned({ ...leafOpts, keyType: opts.keyType })
    : await issueLeaf(loadCa(opts.caDir), leafOpts);
  const written = writeLeaf(opts.out, service, issued);
  if (issued.clampedToCa) ctx.io.err(`mesh: warning: the lifetime was shortened to end with the CA's (${issued.notAfter})\n`);
  const view = genView(service, issued, written, opts.selfSigned === true);
  ctx.io.out(opts.json ? renderJson(view) : renderGen(view));
}

export async function inspect(ctx: CommandContext, file: string, opts: { json?: boolean }): Promise<void> {
  if (file.trim() === '') throw new UsageError('<file>: give the path of a PEM certificate');
  const { inspectCertificateFile } = await import('../../tls/inspect.js'); // @peculiar/x509 only when inspecting
  const report = inspectCertificateFile(file);
  ctx.io.out(opts.json ? renderJson(report) : renderInspectTable(report, { color: ctx.io.stdoutIsTTY && chalk.level > 0 }));
  for (const w of report.warnings) ctx.io.err(`mesh: warning: ${w}\n`);
}
