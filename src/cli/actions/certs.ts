// What `mesh certs ca init | issuer | rotate | gen | inspect` do once their flags are parsed (registered in ../commands/certs.ts).
import chalk from 'chalk';
import { UsageError } from '../../core/errors.js';
import { initCa, loadCa, type KeyType } from '../../tls/ca.js';
import { DEFAULT_LEAF_LIFETIME_MS, issueLeaf, issueSelfSigned, writeLeaf } from '../../tls/leaf.js';
import { validateServiceName } from '../../core/validate.js';
import { flagParser } from '../common.js';
import type { CommandContext } from '../context.js';
import { genView, renderCaInit, renderGen, renderInspectTable, renderIssuer, renderJson, renderRotation } from '../render/certs.js';

export interface CaInitFlags { dir: string; trustDomain: string; days: number; keyType: KeyType; force?: boolean; json?: boolean }
export interface CaIssuerFlags { caDir: string; out: string; days: number; force?: boolean; json?: boolean }
export interface CaRotateFlags { caDir: string; out?: string; issuer: string[]; days: number; finish?: boolean; json?: boolean }
export interface GenFlags {
  caDir: string; out: string; days?: number; hours?: number; dns?: string[]; ip?: string[]; selfSigned?: boolean; keyType: KeyType; json?: boolean;
}

export async function caInit(ctx: CommandContext, opts: CaInitFlags): Promise<void> {
  const result = await initCa({ dir: opts.dir, trustDomain: opts.trustDomain, days: opts.days, keyType: opts.keyType, force: opts.force === true });
  ctx.io.out(opts.json ? renderJson(result) : renderCaInit(result));
}

export async function caIssuer(ctx: CommandContext, opts: CaIssuerFlags): Promise<void> {
  const { createIssuer } = await import('../../tls/issuer.js');
  const result = await createIssuer(loadCa(opts.caDir), { out: opts.out, days: opts.days, force: opts.force === true });
  if (result.clampedToRoot) ctx.io.err(`mesh: warning: the issuer's lifetime was shortened to end with the root's (${result.notAfter})\n`);
  ctx.io.out(opts.json ? renderJson(result) : renderIssuer(result));
}

export async function caRotate(ctx: CommandContext, opts: CaRotateFlags): Promise<void> {
  if (opts.finish === true && opts.out !== undefined) throw new UsageError('--out creates the new root in the first step; --finish takes the new root as --ca-dir');
  if (opts.finish !== true && opts.out === undefined) throw new UsageError('--out <dir>: where to create the new root (or pass --finish for the last step)');
  const { startRootRotation, finishRootRotation } = await import('../../tls/rotate.js');
  const root = loadCa(opts.caDir);
  const step = opts.finish === true ? finishRootRotation(root, opts.issuer) : await startRootRotation(root, { out: opts.out!, days: opts.days, issuerDirs: opts.issuer });
  ctx.io.out(opts.json ? renderJson(step) : renderRotation(step, opts.finish === true ? root.dir : step.newRoot!.dir));
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
