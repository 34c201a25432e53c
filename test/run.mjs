#!/usr/bin/env node
// Runs the compiled test files with node's built-in runner. Node 20 has no glob expansion in `node --test`,
// so the files are listed here. Usage: node test/run.mjs [unit|integration] [substring]
import { spawn } from 'node:child_process';
import { readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { availableParallelism } from 'node:os';

const root = new URL('..', import.meta.url).pathname;
const [kind, filter] = process.argv.slice(2);
const base = join(root, 'dist', 'test');

function walk(dir) {
  const out = [];
  for (const name of readdirSync(dir)) {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) { if (name !== 'bench') out.push(...walk(p)); }
    else if (name.endsWith('.test.js')) out.push(p);
  }
  return out;
}

let files = walk(base).sort();
if (kind === 'unit' || kind === 'integration') files = files.filter((f) => f.includes(`${join('dist', 'test', kind)}/`));
if (filter) files = files.filter((f) => f.includes(filter));
if (files.length === 0) {
  console.error('test/run.mjs: no test files found; did the build run?');
  process.exit(1);
}
// Integration tests spend their time waiting on sockets, so run more files than cores at once.
const concurrency = Math.max(2, Math.min(4, availableParallelism() * 2));
const child = spawn(process.execPath, ['--test', `--test-concurrency=${concurrency}`, ...files], { stdio: 'inherit' });
child.on('exit', (code, signal) => process.exit(signal ? 1 : code ?? 1));
