/**
 * A least-recently-used map bounded by entries and by (estimated) bytes, keyed by
 * `(ns, id)`. One Map per namespace, so a lookup builds no `ns + id` string; recency is an
 * intrusive doubly linked list, so a hit relinks two nodes and allocates nothing.
 */

export interface LruNode<V> {
  readonly ns: string;
  readonly id: string;
  readonly value: V;
  readonly bytes: number;
  /** Towards the most recently used. */
  prev: LruNode<V> | null;
  /** Towards the least recently used. */
  next: LruNode<V> | null;
}

export class Lru<V> {
  private byNs = new Map<string, Map<string, LruNode<V>>>();
  /** Most recently used. */
  private head: LruNode<V> | null = null;
  /** Least recently used: the next to go. */
  private tail: LruNode<V> | null = null;
  size = 0;
  bytes = 0;
  /** Entries dropped to stay within the bounds (not those deleted or cleared). */
  evictions = 0;

  constructor(
    readonly maxEntries: number,
    readonly maxBytes: number,
  ) {}

  /** The node of `(ns, id)`, now the most recently used; undefined when absent. */
  get(ns: string, id: string): LruNode<V> | undefined {
    const node = this.byNs.get(ns)?.get(id);
    if (node !== undefined && node !== this.head) {
      this.unlink(node);
      this.pushHead(node);
    }
    return node;
  }

  /** Without touching recency (tests, inspection). */
  peek(ns: string, id: string): LruNode<V> | undefined {
    return this.byNs.get(ns)?.get(id);
  }

  /**
   * Store `value` as the most recently used, evicting from the other end until both bounds
   * hold. An entry larger than `maxBytes` on its own is not kept, and the key's old entry
   * goes all the same (it is superseded). Returns whether it was kept.
   */
  set(ns: string, id: string, value: V, bytes: number): boolean {
    let ids = this.byNs.get(ns);
    const old = ids?.get(id);
    if (old !== undefined) this.remove(old, ids);
    if (bytes > this.maxBytes) return false;
    if (ids === undefined) this.byNs.set(ns, (ids = new Map()));
    const node: LruNode<V> = { ns, id, value, bytes, prev: null, next: null };
    ids.set(id, node);
    this.pushHead(node);
    this.size++;
    this.bytes += bytes;
    while (this.size > this.maxEntries || this.bytes > this.maxBytes) {
      this.remove(this.tail!);
      this.evictions++;
    }
    return true;
  }

  delete(ns: string, id: string): boolean {
    const ids = this.byNs.get(ns);
    const node = ids?.get(id);
    if (node === undefined) return false;
    this.remove(node, ids);
    return true;
  }

  clear() {
    this.byNs = new Map();
    this.head = this.tail = null;
    this.size = 0;
    this.bytes = 0;
  }

  /** Keys from the most to the least recently used (tests, inspection). */
  *keys(): Generator<[ns: string, id: string]> {
    for (let n = this.head; n !== null; n = n.next) yield [n.ns, n.id];
  }

  private remove(node: LruNode<V>, ids = this.byNs.get(node.ns)) {
    ids?.delete(node.id);
    this.unlink(node);
    this.size--;
    this.bytes -= node.bytes;
  }

  private unlink(node: LruNode<V>) {
    if (node.prev !== null) node.prev.next = node.next;
    else this.head = node.next;
    if (node.next !== null) node.next.prev = node.prev;
    else this.tail = node.prev;
    node.prev = node.next = null;
  }

  private pushHead(node: LruNode<V>) {
    node.next = this.head;
    if (this.head !== null) this.head.prev = node;
    this.head = node;
    if (this.tail === null) this.tail = node;
  }
}
