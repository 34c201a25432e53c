import assert from 'node:assert/strict';
import { test } from 'node:test';
import dnsPacket, { type Answer } from 'dns-packet';
import { encodeReply, readQuery, udpLimit, type Query } from '../../../../src/registry/dns/message.js';

const q = (extra: Partial<dnsPacket.Packet> = {}) => dnsPacket.encode({ type: 'query', id: 4242, flags: dnsPacket.RECURSION_DESIRED, questions: [{ type: 'A', name: 'web.service.mesh' }], ...extra });

test('readQuery: a plain query and one with EDNS0', () => {
  const plain = readQuery(q());
  assert.equal(plain.kind, 'query');
  if (plain.kind !== 'query') return;
  assert.equal(plain.query.id, 4242);
  assert.equal(plain.query.rd, true);
  assert.equal(plain.query.edns, undefined);
  assert.equal(udpLimit(plain.query), 512);
  const edns = readQuery(q({ additionals: [{ type: 'OPT', name: '.', udpPayloadSize: 1232, extendedRcode: 0, ednsVersion: 0, flags: 0, flag_do: false, options: [] }] }));
  assert.ok(edns.kind === 'query' && edns.query.edns?.udpSize === 1232 && udpLimit(edns.query) === 1232);
  const huge = readQuery(q({ additionals: [{ type: 'OPT', name: '.', udpPayloadSize: 65_000, extendedRcode: 0, ednsVersion: 0, flags: 0, flag_do: false, options: [] }] }));
  assert.ok(huge.kind === 'query' && udpLimit(huge.query) === 4096, 'capped at 4096');
});

test('readQuery: malformed input is a FORMERR that echoes the ID, or a drop', () => {
  assert.deepEqual(readQuery(Buffer.alloc(5)), { kind: 'drop', reason: 'short' });
  const resp = q();
  resp.writeUInt16BE(resp.readUInt16BE(2) | 0x8000, 2);
  assert.deepEqual(readQuery(resp), { kind: 'drop', reason: 'response' });
  assert.deepEqual(readQuery(Buffer.alloc(5000)), { kind: 'drop', reason: 'oversize' });
  const loop = Buffer.concat([q().subarray(0, 12), Buffer.from([0xc0, 0x0c, 0, 1, 0, 1])]);
  const trailing = Buffer.concat([q(), Buffer.from([1, 2, 3])]);
  const twoQuestions = dnsPacket.encode({ type: 'query', id: 4242, questions: [{ type: 'A', name: 'a.mesh' }, { type: 'A', name: 'b.mesh' }] });
  for (const bad of [loop, trailing, twoQuestions, q().subarray(0, 20)]) {
    const r = readQuery(bad);
    assert.equal(r.kind, 'reject');
    if (r.kind !== 'reject') continue;
    assert.equal(r.rcode, 'FORMERR');
    const d = dnsPacket.decode(r.reply);
    assert.equal(d.id, 4242);
    assert.equal((d as unknown as { rcode: string }).rcode, 'FORMERR');
  }
  const update = q();
  update.writeUInt16BE(update.readUInt16BE(2) | (5 << 11), 2);
  const r = readQuery(update);
  assert.ok(r.kind === 'reject' && r.rcode === 'NOTIMP');
});

test('encodeReply: additionals go first, then trailing answers with TC; never past the limit', () => {
  const read = readQuery(q());
  assert.equal(read.kind, 'query');
  const query = (read as { query: Query }).query;
  const answers: Answer[] = Array.from({ length: 30 }, (_, i) => ({ name: 'web.service.mesh', type: 'A', ttl: 0, class: 'IN', data: `10.0.0.${i}` }));
  const glue: Answer[] = [{ name: 'x.addr.mesh', type: 'A', ttl: 0, class: 'IN', data: '10.9.9.9' }];
  const fits = encodeReply(query, { rcode: 'NOERROR', answers: answers.slice(0, 3), authorities: [], additionals: glue, authoritative: true, recursionAvailable: false }, 512);
  assert.equal(fits.truncated, false);
  assert.equal(dnsPacket.decode(fits.bytes).additionals!.length, 1);
  const cut = encodeReply(query, { rcode: 'NOERROR', answers, authorities: [], additionals: glue, authoritative: true, recursionAvailable: false }, 512);
  assert.equal(cut.truncated, true);
  assert.ok(cut.bytes.length <= 512);
  const d = dnsPacket.decode(cut.bytes);
  assert.ok(d.flag_tc && d.flag_aa && d.flag_rd);
  assert.equal(d.additionals!.length, 0);
  assert.ok(d.answers!.length > 5 && d.answers!.length < 30);
  assert.deepEqual(d.questions, [{ name: 'web.service.mesh', type: 'A', class: 'IN' }]);
});
