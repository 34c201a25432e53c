// Real curl as a test client, run asynchronously: the servers under test often live in the test's own process
// and must keep answering while curl waits.
import { spawn } from 'node:child_process';

export interface CurlResult {
  /** curl's exit code (0 = a response arrived). */
  code: number;
  /** The HTTP status, 0 when none arrived. */
  status: number;
  /** The HTTP version of the response ("1.1", "2"), "0" when none arrived. */
  version: string;
  body: string;
  stderr: string;
}

/** Runs `curl -sS --max-time 10 <args>` and returns the status, version, body and curl's own errors. */
export function curl(args: string[]): Promise<CurlResult> {
  return new Promise((resolve, reject) => {
    const child = spawn('curl', ['-sS', '--max-time', '10', '-w', '\n%{http_version} %{http_code}', ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => { out += d; });
    child.stderr.setEncoding('utf8').on('data', (d: string) => { err += d; });
    child.on('error', reject);
    child.on('close', (code) => {
      const lines = out.split('\n');
      const [version, status] = lines.pop()!.split(' ');
      resolve({ code: code ?? -1, status: Number(status), version: version!, body: lines.join('\n'), stderr: err });
    });
  });
}
