// One row per service: RPS, success rate, p50/p95/p99, in-flight and a sparkline of recent RPS.
import type { ReactElement } from 'react';
import type { ServiceStatsFrame } from '../../core/admin-types.js';
import { fmtMs, fmtRate, fmtRps, sparkline, type Column } from '../format.js';
import { Table } from './Table.js';

export const SERVICE_SORT_KEYS = ['service', 'rps', 'success', 'p50', 'p95', 'p99', 'inflight'] as const;
export type ServiceSortKey = (typeof SERVICE_SORT_KEYS)[number];

export function successColor(rate: number | null): string | undefined {
  if (rate === null) return undefined;
  return rate >= 0.99 ? 'green' : rate >= 0.95 ? 'yellow' : 'red';
}

/** Sorts a copy: names ascending, numbers descending (worst or busiest first); nulls last. */
export function sortServices(services: readonly ServiceStatsFrame[], key: ServiceSortKey): ServiceStatsFrame[] {
  const value = (s: ServiceStatsFrame): number | null => {
    switch (key) {
      case 'rps': return s.rps;
      case 'success': return s.successRate === null ? null : -s.successRate; // lowest success first
      case 'p50': return s.p50;
      case 'p95': return s.p95;
      case 'p99': return s.p99;
      case 'inflight': return s.inFlight;
      default: return null;
    }
  };
  return [...services].sort((a, b) => {
    if (key === 'service') return a.service < b.service ? -1 : a.service > b.service ? 1 : 0;
    const va = value(a);
    const vb = value(b);
    if (va === vb) return a.service < b.service ? -1 : 1;
    if (va === null) return 1;
    if (vb === null) return -1;
    return vb - va;
  });
}

export interface ServiceTableProps {
  services: readonly ServiceStatsFrame[];
  history: Record<string, number[]>;
  sortKey: ServiceSortKey;
  selected: number;
  width: number;
}

export function ServiceTable({ services, history, sortKey, selected, width }: ServiceTableProps): ReactElement {
  const columns: Column<ServiceStatsFrame>[] = [
    { key: 'service', title: 'SERVICE', width: 18, essential: true, cell: (s) => s.service },
    { key: 'rps', title: 'RPS', width: 8, align: 'right', essential: true, cell: (s) => fmtRps(s.rps) },
    { key: 'success', title: 'SUCCESS', width: 8, align: 'right', essential: true, cell: (s) => fmtRate(s.successRate), color: (s) => successColor(s.successRate) },
    { key: 'p50', title: 'P50', width: 8, align: 'right', cell: (s) => fmtMs(s.p50) },
    { key: 'p95', title: 'P95', width: 8, align: 'right', cell: (s) => fmtMs(s.p95) },
    { key: 'p99', title: 'P99', width: 8, align: 'right', essential: true, cell: (s) => fmtMs(s.p99) },
    { key: 'inflight', title: 'INFLIGHT', width: 8, align: 'right', cell: (s) => String(s.inFlight) },
    { key: 'trend', title: 'RPS TREND', width: 20, cell: (s) => sparkline(history[s.service] ?? [], 20), color: () => 'cyan' },
  ];
  return <Table columns={columns} rows={services} width={width} selected={selected} sortKey={sortKey} rowKey={(s) => s.service} />;
}
