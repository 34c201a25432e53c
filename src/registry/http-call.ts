// One JSON request to the registry over node:http(s). The registry client's one-shot calls use this rather
// than undici, which takes longer to load (≈ 100 ms here) than a `mesh services` call takes to run; undici is
// loaded only for watch streams.
import { Agent as HttpAgent, request as httpRequest, type IncomingMessage } from 'node:http';
import { Agent as HttpsAgent, request as httpsRequest } from 'node:https';

export interface HttpCallResult { status: number; body: string }

/** Keep-alive for callers that repeat (heartbeats); idle sockets close after 4 s, before the daemon's 5 s. */
export function keepAliveAgent(url: URL, ca: string | undefined): HttpAgent {
  const opts = { keepAlive: true, maxSockets: 16, timeout: 4_000 };
  return url.protocol === 'https:' ? new HttpsAgent({ ...opts, ...(ca === undefined ? {} : { ca }) }) : new HttpAgent(opts);
}

export interface HttpCallOptions {
  method: string;
  headers: Record<string, string>;
  body?: string;
  agent: HttpAgent;
  timeoutMs: number;
}

/**
 * Sends the request and reads the whole answer. A socket the server closed while it sat idle in the pool is
 * retried once on a new one (the server never read that request: it closed the socket while it sat idle); a call silent for timeoutMs fails with ETIMEDOUT.
 */
export async function httpCall(url: URL, opts: HttpCallOptions): Promise<HttpCallResult> {
  try {
    return await once(url, opts);
  } catch (err) {
    if ((err as { reusedSocket?: boolean }).reusedSocket && (err as NodeJS.ErrnoException).code === 'ECONNRESET') return once(url, opts);
    throw err;
  }
}

function once(url: URL, opts: HttpCallOptions): Promise<HttpCallResult> {
  return new Promise((resolve, reject) => {
    const send = url.protocol === 'https:' ? httpsRequest : httpRequest;
    const headers = opts.body === undefined ? opts.headers : { ...opts.headers, 'content-length': String(Buffer.byteLength(opts.body)) };
    const req = send(url, { method: opts.method, headers, agent: opts.agent });
    req.setTimeout(opts.timeoutMs, () => req.destroy(Object.assign(new Error(`no answer within ${opts.timeoutMs} ms`), { code: 'ETIMEDOUT' })));
    req.on('error', (err) => reject(Object.assign(err, { reusedSocket: req.reusedSocket })));
    req.on('response', (res: IncomingMessage) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString('utf8') }));
      res.on('error', reject);
    });
    req.end(opts.body);
  });
}
