// A request header written as a person types it ("Name: value"), as `mesh routes explain -H` and the proxy's
// /explain take it. Its own module so a command's flag parser can use it without loading the proxy.
import { UsageError } from './errors.js';

/** "Name: value" → ["name", "value"]. */
export function parseHeader(h: string): [string, string] {
  const i = h.indexOf(':');
  if (i <= 0) throw new UsageError(`invalid header "${h}": use "Name: value"`);
  return [h.slice(0, i).trim().toLowerCase(), h.slice(i + 1).trim()];
}
