// A fixed-rate load generator (wrk2-style, corrected for coordinated omission): requests are scheduled at
// fixed intervals and each latency is measured from its scheduled start, so a stall counts against every
// request it delayed. Run as its own process: node paced-client.js <url> <host|-> <rate> <seconds>
// Prints one JSON line: {"sent","errors","p50","p90","p99","max"} in ms.
import { Agent, request } from 'node:http';

const [url, host, rateText, secondsText] = process.argv.slice(2);
const u = new URL(url!);
const rate = Number(rateText ?? 1000);
const seconds = Number(secondsText ?? 10);
const agent = new Agent({ keepAlive: true, maxSockets: 64 });
const latencies: number[] = [];
let errors = 0;
let sent = 0;
const total = rate * seconds;
const intervalMs = 1000 / rate;
const t0 = performance.now() + 500; // a moment to warm the connection pool up first

function fire(scheduled: number): void {
  const req = request({ host: u.hostname, port: Number(u.port), path: u.pathname, agent, headers: host && host !== '-' ? { host } : {} }, (res) => {
    res.resume();
    res.on('end', () => {
      if (res.statusCode !== 200) errors++;
      else if (scheduled >= t0) latencies.push(performance.now() - scheduled);
      done();
    });
  });
  req.on('error', () => { errors++; done(); });
  req.end();
}

let finished = 0;
function done(): void {
  finished++;
  if (sent - 20 >= total && finished === sent) report();
}

function report(): void {
  latencies.sort((a, b) => a - b);
  const q = (p: number) => +(latencies[Math.min(latencies.length - 1, Math.floor(p * latencies.length))] ?? NaN).toFixed(3);
  process.stdout.write(`${JSON.stringify({ sent, errors, p50: q(0.5), p90: q(0.9), p99: q(0.99), max: q(1 - 1e-9) })}\n`);
  agent.destroy();
}

// Warm-up: a few requests before the clock starts.
for (let i = 0; i < 20; i++) { sent++; fire(0); }
const tick = () => {
  const now = performance.now();
  while (sent - 20 < total) {
    const scheduled = t0 + (sent - 20) * intervalMs;
    if (scheduled > now) break;
    sent++;
    fire(scheduled);
  }
  if (sent - 20 < total) setTimeout(tick, Math.max(0, Math.min(1, t0 + (sent - 20) * intervalMs - performance.now())));
};
setTimeout(tick, 500);
