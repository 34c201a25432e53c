// Waiting for a first event with a deadline: resolves true when `p` settles in time, false after timeoutMs.
// The timer is unref'd and cleared, so a wait that lost the race holds nothing open.
export async function resolvesWithin(p: Promise<unknown>, timeoutMs: number): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<false>((r) => { timer = setTimeout(() => r(false), timeoutMs); timer.unref(); });
  const ok = await Promise.race([p.then(() => true as const), timeout]);
  clearTimeout(timer);
  return ok;
}
