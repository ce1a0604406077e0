import type { Redis } from 'ioredis';

/** Keys per MGET when several reads are merged. */
const MAX_KEYS = 1000;

interface Read {
  keys: string[];
  resolve: (raws: (string | null)[]) => void;
  reject: (e: unknown) => void;
}

/**
 * Cache reads of one tick merged into one MGET (a single server: any keys in one command).
 * Replies that arrive together wake their callers together, and the reads those callers
 * make next go out as one command after them (process.nextTick runs once the promise
 * continuations of the tick have run), so 100 concurrent `get`s cost one round trip of one
 * command, and a lone `get` goes out at once, without the extra event-loop turn and
 * pipeline object of ioredis's auto-pipelining.
 */
export class ReadBatcher {
  private queued: Read[] = [];

  constructor(private readonly reader: Redis) {}

  mget(keys: string[]): Promise<(string | null)[]> {
    return new Promise((resolve, reject) => {
      if (this.queued.push({ keys, resolve, reject }) === 1) process.nextTick(() => this.flush());
    });
  }

  private flush() {
    const reads = this.queued;
    this.queued = [];
    // Reads packed into MGETs of at most MAX_KEYS keys (a read larger than that goes alone).
    let group: Read[] = [];
    let size = 0;
    for (const r of reads) {
      if (size + r.keys.length > MAX_KEYS && group.length) {
        this.send(group);
        group = [];
        size = 0;
      }
      group.push(r);
      size += r.keys.length;
    }
    if (group.length) this.send(group);
  }

  private send(group: Read[]) {
    if (group.length === 1) {
      this.reader.mget(group[0]!.keys).then(group[0]!.resolve, group[0]!.reject);
      return;
    }
    this.reader.mget(group.flatMap((r) => r.keys)).then(
      (raws) => {
        let at = 0;
        for (const r of group) r.resolve(raws.slice(at, (at += r.keys.length)));
      },
      (e) => {
        for (const r of group) r.reject(e);
      },
    );
  }
}
