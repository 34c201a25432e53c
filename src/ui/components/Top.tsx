// `mesh top`: the pure view (TopView) and the interactive app (TopApp) that owns the keys and the data hook.
import { Box, Text, useApp, useInput, useStdout } from 'ink';
import { useEffect, useState, type ReactElement } from 'react';
import type { StatsView } from '../aggregate.js';
import { useStats, type Connect } from '../hooks/useStats.js';
import { EndpointTable } from './EndpointTable.js';
import { FatesRow } from './FatesRow.js';
import { Header } from './Header.js';
import { SERVICE_SORT_KEYS, ServiceTable, sortServices, type ServiceSortKey } from './ServiceTable.js';

export interface TopUiState {
  sortKey: ServiceSortKey;
  selected: number;
  /** The service whose endpoints are shown, or null for the service list. */
  open: string | null;
  /** The service whose slowest recent trace is shown (key t), or null. */
  trace: string | null;
}

export const INITIAL_UI: TopUiState = { sortKey: 'rps', selected: 0, open: null, trace: null };

/**
 * The slowest recent trace of a service, drawn as text (the CLI wires `mesh trace`'s fetching and renderer in);
 * rejects with a message worth showing.
 */
export type SlowestTrace = (service: string, width: number) => Promise<string>;

const LIST_KEYS = '←/→ or s: sort  ↑/↓: select  Enter: endpoints  t: slowest trace  q: quit';
const DETAIL_KEYS = 'Esc: back to services  q: quit';

export function TopView({ view, ui, width, trace }: { view: StatsView; ui: TopUiState; width: number; trace?: string }): ReactElement {
  const services = sortServices(view.services, ui.sortKey);
  const title = `mesh top — ${view.proxies.length} ${view.proxies.length === 1 ? 'proxy' : 'proxies'}, ${services.length} services, ${new Date(view.time).toISOString().slice(11, 19)}`;
  if (ui.trace !== null) {
    return (
      <Box flexDirection="column">
        <Header proxies={view.proxies} title={title} keys={DETAIL_KEYS} width={width} />
        <Text bold>{`\nslowest recent trace of ${ui.trace}`}</Text>
        <Text>{trace ?? 'loading…'}</Text>
      </Box>
    );
  }
  const open = ui.open === null ? undefined : services.find((s) => s.service === ui.open);
  if (ui.open !== null) {
    return (
      <Box flexDirection="column">
        <Header proxies={view.proxies} title={title} keys={DETAIL_KEYS} width={width} now={view.time} />
        <Text bold>{`\n${ui.open}`}</Text>
        {open ? (
          <>
            <FatesRow fates={open.fates} width={width} />
            <EndpointTable endpoints={open.endpoints} now={view.time} width={width} />
          </>
        ) : <Text dimColor>no traffic seen for this service</Text>}
      </Box>
    );
  }
  const selected = services[Math.min(ui.selected, services.length - 1)];
  return (
    <Box flexDirection="column">
      <Header proxies={view.proxies} title={title} keys={LIST_KEYS} width={width} now={view.time} />
      <Text> </Text>
      {services.length === 0
        ? <Text dimColor>{view.proxies.some((p) => p.state === 'connected') ? 'no traffic yet' : 'waiting for a proxy…'}</Text>
        : <ServiceTable services={services} history={view.history} sortKey={ui.sortKey} selected={Math.min(ui.selected, services.length - 1)} width={width} />}
      {selected ? <FatesRow fates={selected.fates} width={width} /> : null}
    </Box>
  );
}

/** Applies one key press to the UI state (pure, so the key map is testable without a terminal). */
export function applyKey(ui: TopUiState, input: string, key: { leftArrow?: boolean; rightArrow?: boolean; upArrow?: boolean; downArrow?: boolean; return?: boolean; escape?: boolean }, services: readonly string[]): TopUiState {
  const i = SERVICE_SORT_KEYS.indexOf(ui.sortKey);
  const n = SERVICE_SORT_KEYS.length;
  if (ui.open !== null || ui.trace !== null) return key.escape || key.leftArrow ? { ...ui, open: null, trace: null } : ui;
  if (key.rightArrow || input === 's') return { ...ui, sortKey: SERVICE_SORT_KEYS[(i + 1) % n]! };
  if (key.leftArrow) return { ...ui, sortKey: SERVICE_SORT_KEYS[(i + n - 1) % n]! };
  if (key.upArrow || input === 'k') return { ...ui, selected: Math.max(0, Math.min(ui.selected, services.length - 1) - 1) };
  if (key.downArrow || input === 'j') return { ...ui, selected: Math.max(0, Math.min(services.length - 1, ui.selected + 1)) };
  if (key.return && services.length > 0) return { ...ui, open: services[Math.min(ui.selected, services.length - 1)]! };
  if (input === 't' && services.length > 0) return { ...ui, trace: services[Math.min(ui.selected, services.length - 1)]! };
  return ui;
}

export interface TopAppProps {
  proxies: readonly string[];
  connect: Connect;
  tickMs?: number;
  /** Fixed width (tests); the terminal's width otherwise. */
  width?: number;
  /** Where key t gets a service's slowest trace; without it the key says tracing is not wired. */
  slowestTrace?: SlowestTrace;
}

export function TopApp({ proxies, connect, tickMs, width, slowestTrace }: TopAppProps): ReactElement {
  const view = useStats(proxies, { connect, tickMs });
  const [ui, setUi] = useState<TopUiState>(INITIAL_UI);
  const [trace, setTrace] = useState<string | undefined>(undefined);
  const { stdout } = useStdout();
  const w = width ?? Math.max(20, (stdout.columns ?? 80) - 1);
  // Fetched once when the trace view opens; a late answer for a view already left is dropped.
  useEffect(() => {
    setTrace(undefined);
    if (ui.trace === null) return undefined;
    let live = true;
    const fetch = slowestTrace ?? (() => Promise.reject(new Error('no trace source')));
    fetch(ui.trace, w).then((text) => { if (live) setTrace(text); }, (err: Error) => { if (live) setTrace(err.message); });
    return () => { live = false; };
  }, [ui.trace]);
  const { exit } = useApp();
  useInput((input, key) => {
    if (input === 'q' || (key.ctrl && input === 'c')) { exit(); return; }
    setUi((prev) => applyKey(prev, input, key, sortServices(view.services, prev.sortKey).map((s) => s.service)));
  });
  return <TopView view={view} ui={ui} width={w} {...(trace === undefined ? {} : { trace })} />;
}
