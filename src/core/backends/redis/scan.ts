import type { Redis } from 'ioredis';
import type { KeyArea, RedisKeys } from './keys.js';

/**
 * Remove one area (`c` cache, `p` pending, `l` locks, `jobs` queues) of every namespace of
 * a deployment: SCAN with MATCH `{P:*}:<area>:*` (never KEYS), keeping only keys whose hash
 * tag is exactly this deployment's, and UNLINK them in batches.
 */
export async function clearArea(client: Redis, keys: RedisKeys, area: KeyArea): Promise<number> {
  let removed = 0;
  let cursor = '0';
  do {
    const [next, found] = await client.scan(cursor, 'MATCH', keys.areaPattern(area), 'COUNT', 1000);
    cursor = next;
    const ours = found.filter((k) => keys.ownsKey(k, area));
    if (ours.length > 0) removed += await client.unlink(...ours);
  } while (cursor !== '0');
  return removed;
}
