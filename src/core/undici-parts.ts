// The parts of undici that the proxy and the registry client use, without the package's index. The index
// loads everything undici has (fetch, WebSocket, EventSource, the cache and cookie code, the mock agents...):
// about 9 MiB of RSS in every proxy process, for the one Pool and one Agent mesh dispatches through. undici 7
// has no "exports" map, so these deep paths are allowed; test/unit/core/lean-deps.test.ts checks that each is
// the very class the index exports, so an undici release that moves a file fails that test, not a proxy.
import { createRequire } from 'node:module';
import type * as Undici from 'undici';

const load = createRequire(import.meta.url);

export const Pool = load('undici/lib/dispatcher/pool.js') as typeof Undici.Pool;
export type Pool = Undici.Pool;
export const Agent = load('undici/lib/dispatcher/agent.js') as typeof Undici.Agent;
export type Agent = Undici.Agent;

// `dispatcher.request()` and friends are added to Dispatcher's prototype by undici's index (the same
// Object.assign, so doing it here too changes nothing when the index is loaded as well).
Object.assign((load('undici/lib/dispatcher/dispatcher.js') as { prototype: object }).prototype, load('undici/lib/api/index.js'));
