// Real curl as a client, run asynchronously (a backend under test may live in the test's own process and must
// keep answering while curl waits). Resolves with its exit code, standard output and standard error.
import { execFile } from 'node:child_process';

export interface CurlResult { code: number; stdout: string; stderr: string }

export function curl(args: string[], timeoutMs = 10_000): Promise<CurlResult> {
  return new Promise((resolve) => {
    execFile('curl', ['-sS', '--max-time', String(Math.ceil(timeoutMs / 1000)), ...args], { timeout: timeoutMs + 2_000, encoding: 'utf8' }, (err, stdout, stderr) => {
      const code = err === null ? 0 : typeof (err as { code?: unknown }).code === 'number' ? (err as { code: number }).code : -1;
      resolve({ code, stdout, stderr });
    });
  });
}
