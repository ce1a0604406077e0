import { afterEach, describe, expect, it, vi } from 'vitest';
import { Wakeups } from '../../src/core/region-wake.js';
import { FakeFeed } from '../helpers/fake-feed.js';

/** A feed already live for its listeners. */
function liveFeed() {
  const feed = new FakeFeed();
  const listen = feed.listen.bind(feed);
  feed.listen = (l) => {
    const stop = listen(l);
    l.up(true);
    return stop;
  };
  return feed;
}

describe('region waiters (Wakeups)', () => {
  afterEach(() => vi.useRealTimers());
  const settled = async (p: Promise<void>) => {
    let done = false;
    void p.then(() => (done = true));
    await vi.advanceTimersByTimeAsync(0);
    return () => done;
  };

  it('woken by a change of the key told while the step ran (watched first), or after it; not by other keys or namespaces', async () => {
    vi.useFakeTimers();
    const feed = liveFeed();
    const w = new Wakeups(feed, 'region.r');
    await (await settled(w.wait(undefined, 'warm', 10)))(); // first wait: listens (polls until live)
    await vi.advanceTimersByTimeAsync(200);
    const watch = w.watch('k');
    expect(watch).toBeDefined();
    feed.change({ ns: 'region.r', ids: ['k'] }); // told before the waiter waits
    const done = await settled(w.wait(watch, 'k', 0));
    expect(done()).toBe(true);
    const later = await settled(w.wait(w.watch('k'), 'k', 0));
    feed.change({ ns: 'region.other', ids: ['k'] });
    feed.change({ ns: 'region.r', ids: ['j'] });
    await vi.advanceTimersByTimeAsync(500);
    expect(later()).toBe(false);
    feed.change({ ns: 'region.r', ids: ['k'] });
    await vi.advanceTimersByTimeAsync(0);
    expect(later()).toBe(true);
    w.close();
  });

  it('while the feed is live, the timer is the slow safety one; with composed steps (a release is not told), the short backoff', async () => {
    vi.useFakeTimers();
    for (const quiet of [false, true]) {
      const w = new Wakeups(liveFeed(), 'region.r', quiet);
      const done = await settled(w.wait(undefined, 'k', 0));
      await vi.advanceTimersByTimeAsync(100);
      expect(done()).toBe(quiet);
      await vi.advanceTimersByTimeAsync(1000);
      expect(done()).toBe(true);
      w.close();
    }
  });

  it('a feed that drops wakes every waiter; without a feed, waiting polls (5, 10, 20 … 100 ms)', async () => {
    vi.useFakeTimers();
    const feed = liveFeed();
    const w = new Wakeups(feed, 'region.r');
    const a = await settled(w.wait(undefined, 'a', 0));
    const b = await settled(w.wait(w.watch('b'), 'b', 0));
    await vi.advanceTimersByTimeAsync(500);
    expect([a(), b()]).toEqual([false, false]);
    feed.up(false);
    await vi.advanceTimersByTimeAsync(0);
    expect([a(), b()]).toEqual([true, true]);
    w.close();
    const none = new Wakeups(undefined, 'region.r');
    expect(none.watch('k')).toBeUndefined();
    const p = await settled(none.wait(undefined, 'k', 0));
    await vi.advanceTimersByTimeAsync(4);
    expect(p()).toBe(false);
    await vi.advanceTimersByTimeAsync(2);
    expect(p()).toBe(true);
    const q = await settled(none.wait(undefined, 'k', 9));
    await vi.advanceTimersByTimeAsync(99);
    expect(q()).toBe(false);
    await vi.advanceTimersByTimeAsync(2);
    expect(q()).toBe(true);
  });
});
