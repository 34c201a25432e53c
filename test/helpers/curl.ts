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

export interface CurlResponse {
  /** curl's exit code (0 = a response arrived). */
  code: number;
  /** The HTTP status, 0 when none arrived. */
  status: number;
  /** The HTTP version of the response ("1.1", "2"), "0" when none arrived. */
  version: string;
  body: string;
  stderr: string;
}

/** One request through real curl, parsed: the status, the HTTP version, the body and curl's own errors. */
export async function curlResponse(args: string[]): Promise<CurlResponse> {
  const { code, stdout, stderr } = await curl(['-w', '\n%{http_version} %{http_code}', ...args]);
  const lines = stdout.split('\n');
  const [version = '0', status = '0'] = lines.pop()!.split(' ');
  return { code, status: Number(status), version, body: lines.join('\n'), stderr };
}
