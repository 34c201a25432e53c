// Certificate and key files on disk. Writes are atomic (temp file in the same directory, fsync, rename, fsync
// of the directory) so a crash or a watching proxy never sees half a PEM; keys are 0600, certificates 0644.
// Reads turn every failure into one MeshError line naming the file and what to do.
import { randomBytes, X509Certificate, createPrivateKey, type KeyObject } from 'node:crypto';
import { closeSync, fsyncSync, openSync, readFileSync, renameSync, statSync, unlinkSync, writeSync, chmodSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { MeshError } from '../core/errors.js';

export const KEY_MODE = 0o600;
export const CERT_MODE = 0o644;

export interface FileToWrite { path: string; data: string; mode: number }

/**
 * Writes several files so that each one is either the old or the complete new content. All temp files are
 * written and synced before the first rename, so a failure part-way (disk full) leaves the old files intact.
 */
export function writeFilesAtomic(files: FileToWrite[]): void {
  const temps: { tmp: string; file: FileToWrite }[] = [];
  try {
    for (const file of files) {
      const tmp = join(dirname(file.path), `.${basename(file.path)}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`);
      // 'wx' creates the file with the final mode from the start: a key is never readable by others, even briefly.
      const fd = openSync(tmp, 'wx', file.mode);
      temps.push({ tmp, file });
      try {
        writeSync(fd, file.data);
        fsyncSync(fd);
      } finally {
        closeSync(fd);
      }
      chmodSync(tmp, file.mode); // the umask may have narrowed a certificate's 0644; set it exactly
    }
    for (const { tmp, file } of temps) renameSync(tmp, file.path);
  } catch (err) {
    for (const { tmp } of temps) { try { unlinkSync(tmp); } catch { /* already renamed or never created */ } }
    throw new MeshError('MESH_ERR_TLS', `cannot write ${files.map((f) => f.path).join(', ')}: ${describeFsError(err)}`, {
      hint: 'check that the directory exists and is writable', cause: err,
    });
  }
  for (const dir of new Set(files.map((f) => dirname(f.path)))) syncDir(dir);
}

function syncDir(dir: string): void {
  // Makes the renames durable. Some file systems refuse fsync on a directory; the data is still in place.
  try {
    const fd = openSync(dir, 'r');
    try { fsyncSync(fd); } finally { closeSync(fd); }
  } catch { /* best effort */ }
}

export function describeFsError(err: unknown): string {
  const e = err as NodeJS.ErrnoException;
  switch (e?.code) {
    case 'ENOENT': return 'no such file or directory';
    case 'EACCES': case 'EPERM': return 'permission denied';
    case 'EISDIR': return 'is a directory';
    case 'ENOTDIR': return 'a parent is not a directory';
    case 'ENOSPC': return 'no space left on device';
    case 'EEXIST': return 'file exists';
    default: return e?.message ?? String(err);
  }
}

/** Reads a text file, or throws one MESH_ERR_TLS line naming it (`what` says what the file was meant to be). */
export function readTextFile(path: string, what: string): string {
  try {
    return readFileSync(path, 'utf8');
  } catch (err) {
    throw new MeshError('MESH_ERR_TLS', `cannot read ${what} "${path}": ${describeFsError(err)}`, { hint: 'check the path and its permissions', cause: err });
  }
}

/** The PEM certificates in a file, in order (a chain file yields several). */
export function readCertificates(path: string, what = 'certificate'): X509Certificate[] {
  return parseCertificates(readTextFile(path, what), `${what} "${path}"`);
}

/** The PEM certificates in a text, in order; `what` names the text in errors ('certificate "a.pem"'). */
export function parseCertificates(text: string, what: string): X509Certificate[] {
  const blocks = text.match(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g);
  if (!blocks) throw new MeshError('MESH_ERR_TLS', `${what} holds no PEM certificate (expected -----BEGIN CERTIFICATE-----)`);
  return blocks.map((pem) => {
    try {
      return new X509Certificate(pem);
    } catch (err) {
      throw new MeshError('MESH_ERR_TLS', `${what} is corrupt: ${(err as Error).message}`, { cause: err });
    }
  });
}

export function parsePrivateKey(pem: string, path: string, what = 'private key'): KeyObject {
  if (!/-----BEGIN [A-Z ]*PRIVATE KEY-----/.test(pem)) {
    throw new MeshError('MESH_ERR_TLS', `${what} "${path}" holds no PEM private key (expected -----BEGIN PRIVATE KEY-----)`);
  }
  try {
    return createPrivateKey(pem);
  } catch (err) {
    throw new MeshError('MESH_ERR_TLS', `${what} "${path}" is corrupt or encrypted: ${(err as Error).message}`, { cause: err });
  }
}

/** Whether a key file can be read by group or others (mode bits 0o077). */
export function isReadableByOthers(path: string): boolean {
  try {
    return (statSync(path).mode & 0o077) !== 0;
  } catch {
    return false; // a missing file is reported by the read that follows
  }
}

/**
 * The CA key signs every identity in the mesh, so a CA key that others can read is refused (as ssh refuses a
 * private key with loose permissions) rather than merely warned about.
 */
export function assertPrivateKeyFile(path: string, what = 'CA key'): void {
  if (isReadableByOthers(path)) {
    const mode = (statSync(path).mode & 0o777).toString(8).padStart(3, '0');
    throw new MeshError('MESH_ERR_TLS', `${what} "${path}" is readable by group or others (mode ${mode}); refusing to use it`, {
      hint: `run: chmod 600 ${path}`,
    });
  }
}
