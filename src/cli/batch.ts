/**
 * Group a stream in batches of `size`, and also flush a partial batch once its first item
 * has waited `maxWaitMs`: a slow producer (`tail -f log | backache submit`) still gets its
 * requests submitted promptly, a fast one gets full batches.
 */
export async function* batches<T>(src: AsyncIterable<T>, size: number, maxWaitMs = 200): AsyncGenerator<T[]> {
  const it = src[Symbol.asyncIterator]();
  let buf: T[] = [];
  let pending: Promise<IteratorResult<T>> | undefined;
  let deadline = 0;
  try {
    for (;;) {
      pending ??= it.next();
      let r: IteratorResult<T> | 'timeout';
      if (buf.length === 0) r = await pending;
      else {
        let timer: NodeJS.Timeout | undefined;
        const wait = Math.max(0, deadline - Date.now());
        r = await Promise.race([pending, new Promise<'timeout'>((res) => (timer = setTimeout(() => res('timeout'), wait)))]);
        clearTimeout(timer);
      }
      if (r === 'timeout') {
        yield buf;
        buf = [];
        continue;
      }
      pending = undefined;
      if (r.done) break;
      if (buf.length === 0) deadline = Date.now() + maxWaitMs;
      buf.push(r.value);
      if (buf.length >= size) {
        yield buf;
        buf = [];
      }
    }
    if (buf.length) yield buf;
  } finally {
    if (!pending) await it.return?.();
  }
}
