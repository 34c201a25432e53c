// The dashboard's data: subscribes to /stats of every proxy, keeps each one's latest frame, reconnects with
// backoff when a stream ends, and publishes a merged view once per tick (redraw on a tick, not per event).
// The transport is a parameter, so tests feed frames without sockets. Nothing here throws into React.
import { useEffect, useRef, useState } from 'react';
import type { StatsFrame } from '../../core/admin-types.js';
import type { StatsHandlers, StatsSubscription } from '../../metrics/admin-client.js';
import { mergeFrames, pushHistory, type ProxyStatus, type StatsView } from '../aggregate.js';

export type Connect = (url: string, handlers: StatsHandlers) => StatsSubscription;

export interface UseStatsOptions {
  connect: Connect;
  /** Redraw interval (ms); 1000 by default. */
  tickMs?: number;
  /** First reconnect delay (ms), doubling to maxBackoffMs. */
  backoffMs?: number;
  maxBackoffMs?: number;
  /** A connected stream with no frame for this long is treated as dead and reconnected. */
  staleMs?: number;
  /** Sparkline length. */
  historyLength?: number;
  now?: () => number;
}

interface ProxySlot {
  status: ProxyStatus;
  frame?: StatsFrame;
  sub?: StatsSubscription;
  retry?: NodeJS.Timeout;
  backoff: number;
}

export function useStats(urls: readonly string[], opts: UseStatsOptions): StatsView {
  const now = opts.now ?? Date.now;
  const [view, setView] = useState<StatsView>(() => ({ time: now(), proxies: urls.map((url) => ({ url, state: 'connecting' })), services: [], history: {} }));
  const key = urls.join('\n');
  const optsRef = useRef(opts);
  optsRef.current = opts;

  useEffect(() => {
    const o = optsRef.current;
    const base = o.backoffMs ?? 500;
    const maxBackoff = o.maxBackoffMs ?? 5_000;
    const staleMs = o.staleMs ?? 5_000;
    let stopped = false;
    let history: Record<string, number[]> = {};
    const slots: ProxySlot[] = urls.map((url) => ({ status: { url, state: 'connecting' }, backoff: base }));

    const open = (slot: ProxySlot) => {
      if (stopped) return;
      slot.retry = undefined;
      slot.status = { ...slot.status, state: 'connecting' };
      try {
        slot.sub = o.connect(slot.status.url, {
          // Opening counts as a sign of life, so a stream that never sends a frame also goes stale.
          onOpen: () => { slot.status = { url: slot.status.url, state: 'connected', lastFrameAt: now() }; },
          onFrame: (frame) => {
            slot.frame = frame;
            slot.backoff = base;
            slot.status = { url: slot.status.url, state: 'connected', lastFrameAt: now(), ...(frame.identity ? { identity: frame.identity } : {}) };
          },
          onClose: (err) => lost(slot, err?.message ?? 'stream closed'),
        });
      } catch (err) {
        lost(slot, (err as Error).message);
      }
    };
    const lost = (slot: ProxySlot, reason: string) => {
      slot.sub = undefined;
      slot.frame = undefined;
      slot.status = { ...slot.status, state: 'disconnected', lastError: reason };
      if (stopped || slot.retry) return;
      slot.retry = setTimeout(() => open(slot), slot.backoff);
      slot.backoff = Math.min(maxBackoff, slot.backoff * 2);
    };
    const tick = () => {
      const t = now();
      for (const slot of slots) {
        const last = slot.status.lastFrameAt;
        if (slot.status.state === 'connected' && last !== undefined && t - last > staleMs) {
          slot.sub?.close();
          lost(slot, `no frame for ${Math.round((t - last) / 1000)}s`);
        }
      }
      const services = mergeFrames(slots.filter((s) => s.frame && s.status.state === 'connected').map((s) => s.frame!));
      history = pushHistory(history, services, o.historyLength ?? 60);
      setView({ time: t, proxies: slots.map((s) => s.status), services, history });
    };

    slots.forEach(open);
    const timer = setInterval(tick, o.tickMs ?? 1000);
    return () => {
      stopped = true;
      clearInterval(timer);
      for (const slot of slots) {
        if (slot.retry) clearTimeout(slot.retry);
        slot.sub?.close();
      }
    };
    // The subscription set depends only on the URLs.
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [key]);

  return view;
}
