// No module of src/ takes part in an import cycle: two files that import each other, directly or around a
// longer loop, cannot be read, tested or moved apart, and a value cycle makes load order decide what is still
// undefined at import time. The graph is read from src/**/*.ts (TypeScript's own import scanner, so comments
// and strings do not count), not from dist/, because of what counts:
// - `import type` counts. A type-only cycle is the same knot in the design (STYLE.md: types shared by two
//   modules live in a small module of their own), tsc erases it from dist/ so only the sources show it, and
//   one `import type` turned into `import` makes it a load-order bug. The proxy's http1/server.ts ↔
//   h2/server.ts circle was one.
// - `export … from` and dynamic `import()` count: a lazy import changes when a module loads, not what it
//   depends on.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import ts from 'typescript';
import { REPO_ROOT } from '../helpers/mesh.js';

const SRC = join(REPO_ROOT, 'src');

function sourceFiles(dir: string): string[] {
  const out: string[] = [];
  for (const name of readdirSync(dir)) {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) out.push(...sourceFiles(p));
    else if (/\.tsx?$/.test(name) && !name.endsWith('.d.ts')) out.push(p);
  }
  return out;
}

/** The file a relative specifier names ('./x.js' is ./x.ts or ./x.tsx), or undefined for a package. */
function resolveSpecifier(from: string, spec: string): string | undefined {
  if (!spec.startsWith('.')) return undefined;
  const base = resolve(dirname(from), spec).replace(/\.js$/, '');
  for (const candidate of [`${base}.ts`, `${base}.tsx`, join(base, 'index.ts')]) if (existsSync(candidate)) return candidate;
  return undefined;
}

function importGraph(): Map<string, string[]> {
  const graph = new Map<string, string[]>();
  for (const file of sourceFiles(SRC)) {
    const imported = ts.preProcessFile(readFileSync(file, 'utf8'), true, true).importedFiles;
    const deps = new Set<string>();
    for (const { fileName } of imported) {
      const target = resolveSpecifier(file, fileName);
      if (target !== undefined) deps.add(target);
    }
    graph.set(file, [...deps]);
  }
  return graph;
}

/** Every cycle, as one loop through each strongly connected component (Tarjan), files relative to the repo. */
function cycles(graph: Map<string, string[]>): string[][] {
  const index = new Map<string, number>();
  const low = new Map<string, number>();
  const stack: string[] = [];
  const onStack = new Set<string>();
  const found: string[][] = [];
  let next = 0;
  const visit = (v: string): void => {
    index.set(v, next); low.set(v, next); next++;
    stack.push(v); onStack.add(v);
    for (const w of graph.get(v) ?? []) {
      if (!index.has(w)) { visit(w); low.set(v, Math.min(low.get(v)!, low.get(w)!)); }
      else if (onStack.has(w)) low.set(v, Math.min(low.get(v)!, index.get(w)!));
    }
    if (low.get(v) !== index.get(v)) return;
    const component = new Set<string>();
    let w: string;
    do { w = stack.pop()!; onStack.delete(w); component.add(w); } while (w !== v);
    if (component.size > 1 || graph.get(v)!.includes(v)) found.push(loopThrough(v, component, graph));
  };
  for (const v of graph.keys()) if (!index.has(v)) visit(v);
  return found.map((loop) => loop.map((f) => relative(REPO_ROOT, f)));
}

/** A shortest path from `start` back to itself inside its component (breadth first), for the failure message. */
function loopThrough(start: string, component: Set<string>, graph: Map<string, string[]>): string[] {
  const cameFrom = new Map<string, string>();
  const queue = [start];
  while (queue.length > 0) {
    const v = queue.shift()!;
    for (const w of graph.get(v)!) {
      if (!component.has(w)) continue;
      if (w === start) {
        const path = [start];
        for (let at = v; at !== start; at = cameFrom.get(at)!) path.splice(1, 0, at);
        return [...path, start];
      }
      if (!cameFrom.has(w)) { cameFrom.set(w, v); queue.push(w); }
    }
  }
  return [start, start];
}

const describe = (found: string[][]): string => found.map((loop) => `  ${loop.join(' → ')}`).join('\n');
const all = cycles(importGraph());

test('src/proxy and src/registry have no import cycle (type-only imports included)', () => {
  const found = all.filter((loop) => loop.some((f) => f.startsWith('src/proxy/') || f.startsWith('src/registry/')));
  assert.equal(found.length, 0, `import cycles:\n${describe(found)}`);
});

test('the rest of src/ has no import cycle either', () => {
  const found = all.filter((loop) => !loop.some((f) => f.startsWith('src/proxy/') || f.startsWith('src/registry/')));
  assert.equal(found.length, 0, `import cycles:\n${describe(found)}`);
});

test('the cycle finder finds a cycle when there is one', () => {
  const a = '/r/src/a.ts', b = '/r/src/b.ts', c = '/r/src/c.ts', d = '/r/src/d.ts';
  const loops = cycles(new Map([[a, [b]], [b, [c]], [c, [a, d]], [d, []]]));
  assert.equal(loops.length, 1);
  assert.deepEqual(loops[0]!.map((f) => f.slice(-4)), ['a.ts', 'b.ts', 'c.ts', 'a.ts']);
  assert.deepEqual(cycles(new Map([[a, [b]], [b, [c]], [c, [d]], [d, []]])), []);
});
