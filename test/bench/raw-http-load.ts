// A closed-loop load generator on raw keep-alive sockets (wrk's way, in JS): `lanes` connections, each with one
// request in flight, sending pre-formatted HTTP/1.1 requests and reading only the status line, Content-Length
// and the body's length. On a 2-core machine the generator shares the CPUs with the server it measures; a
// general-purpose client (node:http's Agent, or RegistryClient on top of it) spent ≈ 0.15–0.25 ms of CPU per
// request, as much as the registry daemon itself, so the bench measured its own client. This one spends a few
// microseconds. It is for benchmarks only: no chunked answers, no redirects, no TLS; anything else is an error.
import { connect, type Socket } from 'node:net';

export interface RawRequest { method: string; path: string; body?: string }

export interface RawLoadOptions {
  url: string;
  /** Requests to send in all; request n (0-based) is make(n). */
  count: number;
  /** Connections, each with one request at a time. */
  lanes: number;
  make: (n: number) => RawRequest;
  /** Called just before request n is written. */
  onSend?: (n: number) => void;
  /** Gives up after this long (every load loop is bounded in count and time). */
  deadlineMs: number;
}

const HEADER_END = Buffer.from('\r\n\r\n');
const CONTENT_LENGTH = /\r\ncontent-length:\s*(\d+)/i;

/** One connection: writes a request, resolves with the answer's status once its whole body has arrived. */
class Lane {
  readonly #socket: Socket;
  #pending: Buffer = Buffer.alloc(0);
  #waiting: { resolve: (status: number) => void; reject: (err: Error) => void } | undefined;
  readonly #host: string;

  constructor(host: string, port: number) {
    this.#host = `${host}:${port}`;
    this.#socket = connect({ host, port, noDelay: true });
    this.#socket.on('data', (chunk: Buffer) => this.#onData(chunk));
    this.#socket.on('error', (err) => this.#fail(err));
    this.#socket.on('close', () => this.#fail(new Error('the server closed the connection')));
  }

  send(req: RawRequest): Promise<number> {
    return new Promise((resolve, reject) => {
      this.#waiting = { resolve, reject };
      const body = req.body ?? '';
      this.#socket.write(`${req.method} ${req.path} HTTP/1.1\r\nhost: ${this.#host}\r\ncontent-type: application/json\r\ncontent-length: ${Buffer.byteLength(body)}\r\n\r\n${body}`);
    });
  }

  close(): void {
    this.#socket.destroy();
  }

  #onData(chunk: Buffer): void {
    this.#pending = this.#pending.length === 0 ? chunk : Buffer.concat([this.#pending, chunk]);
    const end = this.#pending.indexOf(HEADER_END);
    if (end < 0) return;
    const head = this.#pending.toString('latin1', 0, end);
    const length = CONTENT_LENGTH.exec(head);
    if (length === null) { this.#fail(new Error(`an answer without Content-Length: ${head.split('\r\n')[0]}`)); return; }
    const total = end + HEADER_END.length + Number(length[1]);
    if (this.#pending.length < total) return;
    if (this.#pending.length > total) { this.#fail(new Error('more bytes than one answer: the server sent something unasked')); return; }
    this.#pending = Buffer.alloc(0);
    const waiting = this.#waiting;
    this.#waiting = undefined;
    waiting?.resolve(Number(head.slice(9, 12)));
  }

  #fail(err: Error): void {
    const waiting = this.#waiting;
    this.#waiting = undefined;
    waiting?.reject(err);
  }
}

/** Sends `count` requests over `lanes` connections; rejects on the first non-2xx answer or broken connection. */
export async function rawLoad(opts: RawLoadOptions): Promise<void> {
  const u = new URL(opts.url);
  const lanes = Array.from({ length: opts.lanes }, () => new Lane(u.hostname, Number(u.port)));
  const deadline = performance.now() + opts.deadlineMs;
  let next = 0;
  try {
    await Promise.all(lanes.map(async (lane) => {
      while (next < opts.count) {
        if (performance.now() > deadline) throw new Error(`load not done within ${opts.deadlineMs} ms (${next} of ${opts.count} sent)`);
        const n = next++;
        const req = opts.make(n);
        opts.onSend?.(n);
        const status = await lane.send(req);
        if (status < 200 || status > 299) throw new Error(`${req.method} ${req.path}: HTTP ${status}`);
      }
    }));
  } finally {
    for (const lane of lanes) lane.close();
  }
}
