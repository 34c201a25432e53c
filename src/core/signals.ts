// Foreground commands and daemons wait for the user to stop them: the first SIGINT/SIGTERM ends the wait. One
// that reloads on SIGHUP passes onHangup, called on every SIGHUP until then (without it SIGHUP keeps its default
// meaning, terminate).
export interface SignalWait {
  signals?: NodeJS.Signals[];
  onHangup?: () => void;
}

export function untilSignal({ signals = ['SIGINT', 'SIGTERM'], onHangup }: SignalWait = {}): Promise<NodeJS.Signals> {
  return new Promise((resolve) => {
    const on = (signal: NodeJS.Signals) => {
      for (const s of signals) process.off(s, on);
      if (onHangup !== undefined) process.off('SIGHUP', onHangup);
      resolve(signal);
    };
    for (const s of signals) process.on(s, on);
    if (onHangup !== undefined) process.on('SIGHUP', onHangup);
  });
}
