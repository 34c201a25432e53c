import assert from 'node:assert/strict';
import { test } from 'node:test';
import { isDefinitionFile, parseDefinitions } from '../../../../src/registry/definitions/parse.js';

test('parseDefinitions: one object or a list, YAML or JSON, validated like the API', () => {
  assert.deepEqual(parseDefinitions('a.yaml', 'service: web\naddress: 127.0.0.1:80\n').map((s) => s.id), ['web-127.0.0.1-80']);
  const list = parseDefinitions('b.json', JSON.stringify([{ service: 'web', id: 'w1', address: '127.0.0.1:80', check: { ttlMs: 5000 } }, { service: 'db', address: '[::1]:5432' }]));
  assert.deepEqual(list.map((s) => `${s.service}/${s.id}`), ['web/w1', 'db/db-1-5432']);
  assert.equal(list[0]!.check?.ttlMs, 5000);
});

test('parseDefinitions: errors name the file and the field', () => {
  const cases: [string, RegExp][] = [
    ['', /^e\.yaml: the file is empty/],
    ['[]', /^e\.yaml: the list is empty/],
    ['service: web\naddress: [', /^e\.yaml: not valid YAML or JSON/],
    ['service: web\nservice: db\naddress: 127.0.0.1:1', /^e\.yaml: not valid YAML or JSON.*unique/i],
    ['- {service: web, address: "127.0.0.1:1"}\n- {service: web, address: "127.0.0.1:2", priority: -1}', /^e\.yaml: \[1\]\.priority: invalid priority "-1"/],
    ['- {service: web, id: a, address: "127.0.0.1:1"}\n- {service: web, id: a, address: "127.0.0.1:2"}', /^e\.yaml: \[1\]\.id: instance web\/a is defined twice/],
    ['service: Web\naddress: 127.0.0.1:1', /^e\.yaml: service: invalid service name "Web"/],
  ];
  for (const [text, re] of cases) assert.throws(() => parseDefinitions('e.yaml', text), (err: Error & { code?: string }) => err.code === 'MESH_ERR_CONFIG_INVALID' && re.test(err.message), text);
});

test('isDefinitionFile: *.yaml, *.yml, *.json, not hidden files or backups', () => {
  assert.deepEqual(['a.yaml', 'b.YML', 'c.json', '.d.yaml', 'e.yaml~', 'f.txt', 'g.yaml.swp'].filter(isDefinitionFile), ['a.yaml', 'b.YML', 'c.json']);
});
