// One service's endpoints as the balancer sees them: traffic, latency, in-flight, EWMA cost and state — out of
// service because connects to it fail (unreachable; since when is in /stats and `mesh routes`) or because
// outlier detection ejected it (for how much longer); unreachable wins when both hold, since no traffic reaches
// it until a probe connects. Every column still fits 100 terminal columns.
import type { ReactElement } from 'react';
import type { EndpointStatsFrame } from '../../core/admin-types.js';
import { fmtMs, fmtRate, fmtRps, fmtUntil, type Column } from '../format.js';
import { successColor } from './ServiceTable.js';
import { Table } from './Table.js';

export interface EndpointTableProps {
  endpoints: readonly EndpointStatsFrame[];
  now: number;
  width: number;
}

export function EndpointTable({ endpoints, now, width }: EndpointTableProps): ReactElement {
  const ejected = (e: EndpointStatsFrame) => e.ejectedUntil !== undefined && e.ejectedUntil > now;
  const state = (e: EndpointStatsFrame) => (e.unreachableSince !== undefined ? 'unreachable' : ejected(e) ? `ejected ${fmtUntil(e.ejectedUntil, now)}` : '-');
  const columns: Column<EndpointStatsFrame>[] = [
    { key: 'id', title: 'ENDPOINT', width: 16, essential: true, cell: (e) => e.id },
    { key: 'address', title: 'ADDRESS', width: 15, cell: (e) => e.address },
    { key: 'rps', title: 'RPS', width: 8, align: 'right', essential: true, cell: (e) => fmtRps(e.rps) },
    { key: 'success', title: 'SUCCESS', width: 8, align: 'right', essential: true, cell: (e) => fmtRate(e.successRate), color: (e) => successColor(e.successRate) },
    { key: 'p50', title: 'P50', width: 8, align: 'right', cell: (e) => fmtMs(e.p50) },
    { key: 'p99', title: 'P99', width: 8, align: 'right', essential: true, cell: (e) => fmtMs(e.p99) },
    { key: 'inflight', title: 'INFLIGHT', width: 8, align: 'right', cell: (e) => String(e.inFlight) },
    { key: 'ewma', title: 'EWMA', width: 8, align: 'right', cell: (e) => (e.ewmaMs ? fmtMs(e.ewmaMs) : '-') },
    { key: 'state', title: 'STATE', width: 13, essential: true, cell: state, color: (e) => (e.unreachableSince !== undefined || ejected(e) ? 'red' : undefined) },
  ];
  return <Table columns={columns} rows={endpoints} width={width} rowKey={(e) => e.id} />;
}
