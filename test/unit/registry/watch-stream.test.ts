import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { ApiContext } from '../../../src/registry/api/context.js';
import { formatEvent, openEventStream } from '../../../src/registry/api/watch-stream.js';

/** A response that records what the stream does to it, in order. */
function fakeResponse() {
  const calls: string[] = [];
  const res = {
    writableLength: 0,
    writableEnded: false,
    writeHead: () => { calls.push('head'); return res; },
    flushHeaders: () => { calls.push('flush-headers'); },
    cork: () => { calls.push('cork'); },
    uncork: () => { calls.push('uncork'); },
    write: (text: string) => { calls.push(`write ${text.split('\n')[1]}`); return true; },
    end: () => { res.writableEnded = true; calls.push('end'); },
    on: () => res,
  };
  return { res: res as unknown as ServerResponse, calls };
}

const ctx = {
  store: { currentIndex: () => 1 },
  keepaliveMs: 60_000,
  watchMaxQueuedBytes: 1 << 20,
  onWatchStream: () => {},
  log: () => {},
} as unknown as ApiContext;
const req = { socket: { setNoDelay: () => {}, setTimeout: () => {} } } as unknown as IncomingMessage;

test('a watch stream writes the events of one turn together and flushes them before the turn ends', async () => {
  const { res, calls } = fakeResponse();
  let send!: (e: { type: string; index: number }) => void;
  let end!: () => void;
  openEventStream(ctx, req, res, (subscriber) => { send = subscriber.send; end = subscriber.close; return () => {}; });
  calls.length = 0;
  send({ type: 'upsert', index: 2 });
  send({ type: 'upsert', index: 3 });
  send({ type: 'remove', index: 4 });
  assert.deepEqual(calls, ['cork', 'write event: upsert', 'write event: upsert', 'write event: remove'], 'one cork for the turn');
  await new Promise((r) => process.nextTick(r));
  assert.deepEqual(calls.slice(4), ['uncork'], 'flushed at the end of the turn, once');
  send({ type: 'upsert', index: 5 });
  await new Promise((r) => process.nextTick(r));
  assert.deepEqual(calls.slice(5), ['cork', 'write event: upsert', 'uncork'], 'the next turn corks again');
  end();
});

test('formatEvent: one text per published event for every stream; a reset is not kept', () => {
  const e = { type: 'upsert', index: 7, instance: { service: 's', id: 'a' } };
  const first = formatEvent(e);
  assert.equal(first, `id: 7\nevent: upsert\ndata: ${JSON.stringify(e)}\n\n`);
  assert.equal(formatEvent(e), first);
  const reset = { type: 'reset', index: 8, instances: [] };
  assert.equal(formatEvent(reset), `id: 8\nevent: reset\ndata: ${JSON.stringify(reset)}\n\n`);
  assert.equal(formatEvent(e), first, 'a reset in between does not evict the shared text');
  const other = { type: 'upsert', index: 9, instance: { service: 's', id: 'b' } };
  assert.notEqual(formatEvent(other), first);
});
