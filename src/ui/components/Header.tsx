// The top line: what is being watched, each proxy's connection state, and the keys.
import { Box, Text } from 'ink';
import type { ReactElement } from 'react';
import type { ProxyStatus } from '../aggregate.js';
import { truncate } from '../format.js';

const MARK: Record<ProxyStatus['state'], [string, string]> = { connected: ['●', 'green'], connecting: ['◌', 'yellow'], disconnected: ['○', 'red'] };

export function Header({ proxies, title, keys, width }: { proxies: readonly ProxyStatus[]; title: string; keys: string; width: number }): ReactElement {
  return (
    <Box flexDirection="column">
      <Text bold>{truncate(title, width)}</Text>
      {proxies.map((p) => {
        const [mark, color] = MARK[p.state];
        const line = `${mark} ${p.url} ${p.state}${p.state === 'disconnected' && p.lastError ? ` (${p.lastError}; reconnecting)` : ''}`;
        return <Text key={p.url} color={color}>{truncate(line, width)}</Text>;
      })}
      <Text dimColor>{truncate(keys, width)}</Text>
    </Box>
  );
}
