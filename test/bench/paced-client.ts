// A fixed-rate, open-loop load generator (wrk2-style): requests are scheduled at fixed intervals and sent
// whether or not earlier ones answered, so a slow server cannot slow the load down (no coordinated omission).
// Run as its own process: node paced-client.js <url> <host|-> <rate> <seconds>
// Prints one JSON line: {"sent","errors","p50","p90","p99","max","scheduledP50","scheduledP99"} in ms.
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

// Two latencies per request: from when it was sent (the proxy's own cost: what the report uses), and from
// when it was scheduled (also counts this client's timer lateness — Node's timers are 1 ms coarse, which at
// 1,000 req/s dominated the old p99 for direct and proxy alike — and any stall that held sends back).
const fromSchedule: number[] = [];

function fire(scheduled: number): void {
  const sentAt = performance.now();
  const req = request({ host: u.hostname, port: Number(u.port), path: u.pathname, agent, headers: host && host !== '-' ? { host } : {} }, (res) => {
    res.resume();
    res.on('end', () => {
      if (res.statusCode !== 200) errors++;
      else if (scheduled >= t0) {
        const now = performance.now();
        latencies.push(now - sentAt);
        fromSchedule.push(now - scheduled);
      }
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
  fromSchedule.sort((a, b) => a - b);
  const q = (p: number, l = latencies) => +(l[Math.min(l.length - 1, Math.floor(p * l.length))] ?? NaN).toFixed(3);
  process.stdout.write(`${JSON.stringify({ sent, errors, p50: q(0.5), p90: q(0.9), p99: q(0.99), max: q(1 - 1e-9), scheduledP50: q(0.5, fromSchedule), scheduledP99: q(0.99, fromSchedule) })}\n`);
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
