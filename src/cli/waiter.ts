/**
 * Wait for delegated requests with bounded concurrency (`run`, `submit --wait`): at most
 * `limit` `waitFor` calls run at once, and `add` resolves only when there is room, so the
 * input is read no faster than results come back and memory stays flat.
 */
import type { ResultLine } from './output.js';

export interface Waitable {
  op: string;
  uri: string;
  jobId: string;
}

export type WaitFn = (jobId: string) => Promise<{ value: unknown }>;

export interface WaitOutcome {
  result?: ResultLine;
  /** For a quarantined result: the quarantine item. */
  quarantineId?: string;
  /** Not a result: e.g. a timeout (reported on stderr, counts as a failure). */
  failure?: string;
}

export class ResultWaiter {
  private active = 0;
  private room: (() => void)[] = [];
  private idle: (() => void)[] = [];
  private fatal?: unknown;

  constructor(
    private wait: WaitFn,
    private onOutcome: (o: WaitOutcome, item: Waitable) => void | Promise<void>,
    private limit = 256,
    /** Decides whether an error of `wait` is the item's outcome or must abort the command. */
    private classify: (e: unknown) => WaitOutcome | undefined = () => undefined,
  ) {}

  get inFlight() {
    return this.active;
  }

  /** Start waiting for one item; resolves once another may be added. */
  async add(item: Waitable): Promise<void> {
    if (this.fatal) throw this.fatal;
    while (this.active >= this.limit) {
      await new Promise<void>((r) => this.room.push(r));
      if (this.fatal) throw this.fatal;
    }
    this.active++;
    void this.run(item);
  }

  private async run(item: Waitable) {
    try {
      let outcome: WaitOutcome;
      try {
        const r = await this.wait(item.jobId);
        outcome = { result: { op: item.op, uri: item.uri, status: 'computed', value: r.value } };
      } catch (e) {
        const o = this.classify(e);
        if (!o) throw e;
        outcome = o.result ? { ...o, result: { ...o.result, op: item.op, uri: item.uri } } : o;
      }
      await this.onOutcome(outcome, item);
    } catch (e) {
      this.fatal ??= e;
    } finally {
      this.active--;
      this.room.shift()?.();
      if (this.active === 0) for (const f of this.idle.splice(0)) f();
    }
  }

  /** Resolves when every added item has its outcome; rejects with the first fatal error. */
  async drain(): Promise<void> {
    while (this.active > 0) await new Promise<void>((r) => this.idle.push(r));
    if (this.fatal) throw this.fatal;
  }
}
