// Waiting for a first event with a deadline: resolves true when `p` settles in time, false after timeoutMs.
// The timer is cleared when `p` wins, so a wait that is over holds nothing open.
export async function resolvesWithin(p: Promise<unknown>, timeoutMs: number): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  // Not unref'd: a caller awaiting the answer must get it. The proxy waits here for its first route table, and
  // while the registry is down the only other handles are unref'd retry timers, so an unref'd timer let the
  // process exit 0 before it ever listened.
  const timeout = new Promise<false>((r) => { timer = setTimeout(() => r(false), timeoutMs); });
  const ok = await Promise.race([p.then(() => true as const), timeout]);
  clearTimeout(timer);
  return ok;
}
