// Why requests ended as they did: ok, ok after retry, and each way of failing, since the proxy started.
import { Text } from 'ink';
import type { ReactElement } from 'react';
import type { RequestFates } from '../../core/admin-types.js';
import { fmtCount, truncate } from '../format.js';

const LABELS: [keyof RequestFates, string, string | undefined][] = [
  ['ok', 'ok', 'green'], ['okAfterRetry', 'ok after retry', 'green'], ['failed', 'failed', 'red'],
  ['retryBudgetExhausted', 'retry budget exhausted', 'red'], ['timeout', 'timeout', 'red'],
  ['noHealthyEndpoint', 'no healthy endpoint', 'red'], ['circuitOpen', 'circuit open', 'yellow'], ['denied', 'denied', 'yellow'],
  ['faultInjected', 'fault injected', 'yellow'],
];

/** "fates  ok 120  ok after retry 3  timeout 1" — zero counts other than ok are left out to save room. */
export function fatesText(fates: RequestFates): string {
  return `fates  ${LABELS.filter(([k]) => k === 'ok' || fates[k] > 0).map(([k, label]) => `${label} ${fmtCount(fates[k])}`).join('  ')}`;
}

export function FatesRow({ fates, width }: { fates: RequestFates; width: number }): ReactElement {
  const bad = LABELS.some(([k, , color]) => color === 'red' && fates[k] > 0);
  return <Text color={bad ? 'yellow' : undefined}>{truncate(fatesText(fates), width)}</Text>;
}
