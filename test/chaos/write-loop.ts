// What the chaos run's writers share: one write every `stepMs` (bounded in count), each either acknowledged or
// not, logged with its time so that a fault's window can be counted; pausable, so a measurement can run with
// the writer quiet. Subclasses say what one write is and remember what was acknowledged.
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** How long an acknowledged write may take to reach every daemon (their watches) before it counts as lost. */
export const SETTLE_MS = 5_000;

export abstract class WriteLoop {
  attempts = 0;
  /** [time, acknowledged] of every write. */
  readonly log: [number, boolean][] = [];
  private stopped = false;
  private paused = false;
  private inFlight: Promise<unknown> = Promise.resolve();
  private running: Promise<void> | undefined;

  constructor(private readonly stepMs: number, private readonly maxSteps: number) {}

  /** Write number `n`; resolves whether it was acknowledged (a write that was not may or may not have happened). */
  protected abstract step(n: number): Promise<boolean>;

  start(): void {
    this.running = (async () => {
      for (let n = 0; !this.stopped && n < this.maxSteps; n++) {
        if (!this.paused) {
          const write = this.write(n);
          this.inFlight = write;
          await write;
        }
        await sleep(this.stepMs);
      }
    })();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    await this.running;
  }

  /** Runs `fn` with no write of this loop in flight or started meanwhile. */
  async quiet<T>(fn: () => Promise<T>): Promise<T> {
    this.paused = true;
    await this.inFlight;
    try { return await fn(); } finally { this.paused = false; }
  }

  /** Acknowledged / attempted writes that started in [from, to). */
  during(from: number, to: number): string {
    const w = this.log.filter(([at]) => at >= from && at < to);
    return `${w.filter(([, ok]) => ok).length}/${w.length}`;
  }

  get acknowledged(): number {
    return this.log.filter(([, ok]) => ok).length;
  }

  protected async write(n: number): Promise<boolean> {
    this.attempts++;
    const at = Date.now();
    const ok = await this.step(n);
    this.log.push([at, ok]);
    return ok;
  }
}
