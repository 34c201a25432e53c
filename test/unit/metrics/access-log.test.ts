import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { AccessLog, type AccessLogEntry } from '../../../src/metrics/access-log.js';
import { tempDir } from '../../helpers/mesh.js';

const entry = (i: number): AccessLogEntry => ({
  method: 'GET', authority: 'orders', path: `/x?i=${i}&q="quoted"`, status: 200, error: null, durationMs: 1.23456, upstream: '127.0.0.1:9001',
  bytesIn: 0, bytesOut: 42, requestId: `req-${i}`, traceId: '4bf92f3577b34da6a3ce929d0e0e4736',
});

test('writes one JSON line per request with the documented fields', { timeout: 10_000 }, async (t) => {
  const dir = tempDir();
  t.after(dir.cleanup);
  const file = join(dir.path, 'access.log');
  const log = await AccessLog.open(file, { now: () => Date.UTC(2026, 0, 2, 3, 4, 5, 6) });
  for (let i = 0; i < 100; i++) log.record(entry(i));
  log.record({ ...entry(100), upstream: null, status: 503, error: 'no-healthy-endpoint' });
  await log.close();
  const lines = readFileSync(file, 'utf8').trim().split('\n').map((l) => JSON.parse(l));
  assert.equal(lines.length, 101);
  assert.deepEqual(lines[7], {
    time: '2026-01-02T03:04:05.006Z', method: 'GET', authority: 'orders', path: '/x?i=7&q="quoted"', status: 200, error: null, duration_ms: 1.235,
    upstream: '127.0.0.1:9001', bytes_in: 0, bytes_out: 42, request_id: 'req-7', trace_id: '4bf92f3577b34da6a3ce929d0e0e4736',
  });
  assert.equal(lines[100].upstream, null);
  assert.equal(lines[100].error, 'no-healthy-endpoint');
  assert.equal(statSync(file).mode & 0o777, 0o640);
  assert.equal(log.dropped, 0);
});

test('drops and counts lines instead of buffering without bound', { timeout: 10_000 }, async (t) => {
  const dir = tempDir();
  t.after(dir.cleanup);
  const file = join(dir.path, 'access.log');
  const log = await AccessLog.open(file, { maxBufferBytes: 2000 });
  for (let i = 0; i < 200; i++) log.record(entry(i)); // all in one event-loop turn: nothing has been written yet
  assert.ok(log.dropped > 150, `dropped ${log.dropped}`);
  assert.equal(log.written + log.dropped, 200);
  await log.close();
  assert.equal(readFileSync(file, 'utf8').trim().split('\n').length, log.written);
});

test('lines gathered over many event-loop turns reach the file in one write, not one per turn', { timeout: 10_000 }, async (t) => {
  const dir = tempDir();
  t.after(dir.cleanup);
  const file = join(dir.path, 'access.log');
  // An interval no test run reaches: only the size threshold or close() may write.
  const log = await AccessLog.open(file, { flushIntervalMs: 600_000 });
  for (let turn = 0; turn < 30; turn++) {
    for (let i = 0; i < 5; i++) log.record(entry(turn * 5 + i)); // 150 lines in all, well under 64 KiB
    await new Promise((r) => setImmediate(r));
  }
  assert.equal(log.flushes, 0, 'nothing written while the batch is small and young');
  await log.close();
  assert.equal(log.flushes, 1);
  assert.equal(readFileSync(file, 'utf8').trim().split('\n').length, 150);
});

test('a batch of 64 KiB is written at once, without waiting for the interval', { timeout: 10_000 }, async (t) => {
  const dir = tempDir();
  t.after(dir.cleanup);
  const file = join(dir.path, 'access.log');
  const log = await AccessLog.open(file, { flushIntervalMs: 600_000 });
  let n = 0;
  while (log.flushes === 0 && n < 10_000) log.record(entry(n++));
  assert.equal(log.flushes, 1);
  assert.ok(n > 100 && n < 1000, `${n} lines made the first batch`); // ~270-byte lines: about 240 to 64 KiB
  await log.close();
  assert.equal(readFileSync(file, 'utf8').trim().split('\n').length, n);
});

test('an unwritable path is refused with a clear error', async () => {
  await assert.rejects(AccessLog.open('/nonexistent-dir/x.log'), /--access-log: cannot open/);
});
