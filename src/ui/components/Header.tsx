// The top line: what is being watched, each proxy's connection state, and the keys.
import { Box, Text } from 'ink';
import type { ReactElement } from 'react';
import type { ProxyStatus } from '../aggregate.js';
import type { ProxyIdentity } from '../../core/admin-types.js';
import { truncate } from '../format.js';

const MARK: Record<ProxyStatus['state'], [string, string]> = { connected: ['●', 'green'], connecting: ['◌', 'yellow'], disconnected: ['○', 'red'] };

/** "as spiffe://…/web, cert 2m10s left" (or "EXPIRED"). */
export function identityText(id: ProxyIdentity, now: number): string {
  const left = Date.parse(id.notAfter) - now;
  return `as ${id.spiffeId}, cert ${left <= 0 ? 'EXPIRED' : `${formatLeft(left)} left`}`;
}

function formatLeft(ms: number): string {
  const s = Math.ceil(ms / 1000);
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m${String(s % 60).padStart(2, '0')}s`;
  return `${Math.floor(s / 3600)}h${String(Math.floor((s % 3600) / 60)).padStart(2, '0')}m`;
}

export function Header({ proxies, title, keys, width, now = Date.now() }: { proxies: readonly ProxyStatus[]; title: string; keys: string; width: number; now?: number }): ReactElement {
  return (
    <Box flexDirection="column">
      <Text bold>{truncate(title, width)}</Text>
      {proxies.map((p) => {
        const [mark, color] = MARK[p.state];
        const line = `${mark} ${p.url} ${p.state}${p.state === 'disconnected' && p.lastError ? ` (${p.lastError}; reconnecting)` : ''}`;
        const id = p.identity === undefined ? '' : `  ${identityText(p.identity, now)}`;
        return <Text key={p.url} color={color}>{truncate(`${line}${id}`, width)}</Text>;
      })}
      <Text dimColor>{truncate(keys, width)}</Text>
    </Box>
  );
}
