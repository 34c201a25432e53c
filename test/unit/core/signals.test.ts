import { test } from 'node:test';
import assert from 'node:assert/strict';
import { untilSignal } from '../../../src/core/signals.js';

test('untilSignal: SIGHUP calls onHangup as often as it comes; SIGTERM ends the wait and removes every listener', async () => {
  const before = { term: process.listenerCount('SIGTERM'), int: process.listenerCount('SIGINT'), hup: process.listenerCount('SIGHUP') };
  let hangups = 0;
  const waiting = untilSignal({ onHangup: () => { hangups++; } });
  process.emit('SIGHUP', 'SIGHUP');
  process.emit('SIGHUP', 'SIGHUP');
  assert.equal(hangups, 2);
  process.emit('SIGTERM', 'SIGTERM');
  assert.equal(await waiting, 'SIGTERM');
  assert.deepEqual({ term: process.listenerCount('SIGTERM'), int: process.listenerCount('SIGINT'), hup: process.listenerCount('SIGHUP') }, before);
});

test('untilSignal without onHangup leaves SIGHUP alone', async () => {
  const hup = process.listenerCount('SIGHUP');
  const waiting = untilSignal();
  assert.equal(process.listenerCount('SIGHUP'), hup);
  process.emit('SIGINT', 'SIGINT');
  assert.equal(await waiting, 'SIGINT');
});
