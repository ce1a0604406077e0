import calculateSlot from 'cluster-key-slot';
import { MAX_SHARDS } from '../../operations.js';

export { MAX_SHARDS };
const SLOTS = 16384;

/**
 * The layouts of operations spread over several hash tags (`shards: N`), and the tags
 * they use.
 *
 * With `shards: 1` (the default) an operation's keys carry one tag `{P:N}`. With `shards: N`
 * a pair's keys carry the tag of shard `hash(uri) % N`, and shard `s` is `{P:N~j}`, where
 * `j` is the first integer whose tag's cluster slot falls in the middle half of the s-th
 * of N equal slot ranges: so the N tags land on N different masters of a cluster whose
 * slots are split evenly (what `redis-cli --cluster create` does), not wherever CRC16
 * happens to put `{P:N~0}…{P:N~5}`. The tags are a function of the prefix, operation and
 * N alone, so every process computes the same ones.
 *
 * An operation may have been used with several N (its `shards` changed): every layout it
 * has been used with stays known (`seen`, which always holds 1, the default), so its queues keep draining, scans and counts
 * see entries on every layout, and invalidation reaches them. New pairs go to the current
 * layout; entries on an old one are misses and are computed again.
 */
export class ShardLayouts {
  /** Current N per namespace (only those above 1). */
  private readonly current = new Map<string, number>();
  /** Every N a namespace has been used with, when more than `[1]`. */
  private readonly seen = new Map<string, number[]>();
  private readonly tagSets = new Map<string, string[]>();
  private readonly allTags = new Map<string, string[]>();
  /** N of the operations this process defines: what others recorded never replaces them. */
  private readonly own = new Map<string, number>();

  constructor(private readonly base: (ns: string) => string) {}

  /** This process defines `ns` with `n` shards: it writes with that N whatever others use. */
  declare(ns: string, n: number) {
    this.own.set(ns, n);
    this.set(ns, n, this.layouts(ns));
  }

  /** The N of every operation this process defines. */
  declared(): Record<string, number> {
    return Object.fromEntries(this.own);
  }

  /** Set a namespace's layouts: the one new pairs use (unless declared here), and every one it has been used with. */
  set(ns: string, n: number, seen: number[] = []) {
    n = this.own.get(ns) ?? n;
    // Layout 1 always counts as seen: an operation may have run unsharded before.
    const all = [...new Set([1, ...seen, n])].filter((x) => Number.isInteger(x) && x >= 1 && x <= MAX_SHARDS).sort((a, b) => a - b);
    if (n > 1) this.current.set(ns, n);
    else this.current.delete(ns);
    if (all.length > 1 || all[0] !== 1) this.seen.set(ns, all);
    else this.seen.delete(ns);
    this.allTags.delete(ns);
  }

  /** The current N of a namespace (1 unless spread). */
  count(ns: string): number {
    return this.current.get(ns) ?? 1;
  }

  /** Every N a namespace has been used with (`[1]` for a plain one). */
  layouts(ns: string): number[] {
    return this.seen.get(ns) ?? [1];
  }

  /** Whether any key of `ns` may live under a tag other than its base one. */
  spread(ns: string): boolean {
    return this.seen.has(ns);
  }

  /** The tag of the pair whose id hashes to `hash`, in layout `n` (the current one by default). */
  tagFor(ns: string, hash: string, n = this.count(ns)): string {
    if (n <= 1) return this.base(ns);
    return this.tagsAt(ns, n)[shardOf(hash, n)]!;
  }

  /** The tags where the pair may live, one per layout in use (the current one first). */
  tagsFor(ns: string, hash: string): string[] {
    const seen = this.seen.get(ns);
    if (!seen) return [this.base(ns)];
    const first = this.tagFor(ns, hash);
    const out = [first];
    for (const n of seen) {
      const t = this.tagFor(ns, hash, n);
      if (!out.includes(t)) out.push(t);
    }
    return out;
  }

  /** Every tag of a namespace over every layout it has been used with (its base tag first). */
  tagsOf(ns: string): string[] {
    let all = this.allTags.get(ns);
    if (!all) {
      const set = new Set<string>([this.base(ns)]);
      for (const n of this.layouts(ns)) for (const t of this.tagsAt(ns, n)) set.add(t);
      all = [...set];
      this.allTags.set(ns, all);
    }
    return all;
  }

  /** The N tags of layout `n`, shard 0 first. */
  tagsAt(ns: string, n: number): string[] {
    if (n <= 1) return [this.base(ns)];
    const memo = `${n}\u0000${ns}`;
    let tags = this.tagSets.get(memo);
    if (!tags) {
      tags = spreadTags(this.base(ns), n);
      if (this.tagSets.size < 10_000) this.tagSets.set(memo, tags);
    }
    return tags;
  }
}

/** Which of `n` shards a pair belongs to: the first 4 bytes of its id hash (base64url SHA-1), mod n. */
export function shardOf(hash: string, n: number): number {
  return Buffer.from(hash.slice(0, 8), 'base64url').readUInt32BE(0) % n;
}

/** `{P:N}` → the tags `{P:N~j}` of n shards, one in the middle half of each n-th of the slot space. */
function spreadTags(base: string, n: number): string[] {
  const stem = base.slice(0, -1); // without the closing brace
  const width = SLOTS / n;
  const out: string[] = [];
  let j = 0;
  for (let s = 0; s < n; s++) {
    const lo = s * width + width / 4;
    const hi = s * width + (3 * width) / 4;
    for (;; j++) {
      const tag = `${stem}~${j}}`;
      const slot = calculateSlot(tag);
      if (slot >= lo && slot < hi) {
        out.push(tag);
        j++;
        break;
      }
    }
    // j keeps counting: the tags are distinct, and shard s+1's search starts where s ended
  }
  return out;
}
