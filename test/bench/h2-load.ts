// A small HTTP/2 load generator for machines without h2load: keeps `concurrency` GET streams in flight over
// `sessions` h2c connections for `seconds`, then prints {"rps","p50","p99","errors"} as one JSON line.
// Usage: node h2-load.js <url> <authority> <seconds> <concurrency> [sessions]
import { connect, type ClientHttp2Session } from 'node:http2';

const [url, authority, secondsArg, concurrencyArg, sessionsArg] = process.argv.slice(2);
const seconds = Number(secondsArg ?? 5);
const concurrency = Number(concurrencyArg ?? 64);
const sessionCount = Number(sessionsArg ?? 4);
const sessions: ClientHttp2Session[] = Array.from({ length: sessionCount }, () => connect(url!));
for (const s of sessions) s.on('error', () => undefined);
const latencies: number[] = [];
let errors = 0;
let stopAt = 0;

function one(session: ClientHttp2Session): Promise<void> {
  return new Promise((resolve) => {
    const t0 = performance.now();
    const req = session.request({ ':path': '/', ':authority': authority! });
    req.on('data', () => undefined);
    req.on('end', () => { latencies.push(performance.now() - t0); resolve(); });
    req.on('error', () => { errors++; resolve(); });
    req.end();
  });
}

async function worker(i: number): Promise<void> {
  const session = sessions[i % sessions.length]!;
  while (performance.now() < stopAt) await one(session);
}

await Promise.all(sessions.map((s) => new Promise((r) => s.once('connect', r))));
for (let i = 0; i < 200; i++) await one(sessions[i % sessions.length]!); // warm-up
latencies.length = 0;
const start = performance.now();
stopAt = start + seconds * 1000;
await Promise.all(Array.from({ length: concurrency }, (_, i) => worker(i)));
const elapsed = (performance.now() - start) / 1000;
latencies.sort((a, b) => a - b);
const at = (q: number) => latencies[Math.min(latencies.length - 1, Math.floor(q * latencies.length))] ?? 0;
process.stdout.write(`${JSON.stringify({ rps: latencies.length / elapsed, p50: at(0.5), p99: at(0.99), errors })}\n`);
for (const s of sessions) s.close();
