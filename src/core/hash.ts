import * as crypto from 'node:crypto';

const { createHash, randomFillSync } = crypto;
/** Node ≥ 20.12 has the one-shot `crypto.hash` (several times faster for short inputs). */
const oneShot = (crypto as { hash?: (alg: string, data: string, enc: 'base64url') => string }).hash;

/** Stable short hash of a URI for use inside backend keys (URIs never go into keys raw). */
export const hashId: (id: string) => string = oneShot
  ? (id) => oneShot('sha1', id, 'base64url')
  : (id) => createHash('sha1').update(id).digest('base64url');

// Random bytes are drawn 4 KiB at a time (one call into the CSPRNG per 680 ids, not per id).
const pool = Buffer.alloc(4096);
let poolAt = pool.length;

// The time prefix is formatted once per millisecond, not once per id.
let stampMs = -1;
let stamp = '';

/** Random ids for jobs, tokens, quarantine items. Sortable by time prefix. */
export function newId() {
  if (poolAt + 6 > pool.length) {
    randomFillSync(pool);
    poolAt = 0;
  }
  const now = Date.now();
  if (now !== stampMs) {
    stampMs = now;
    stamp = now.toString(36).padStart(9, '0');
  }
  return stamp + pool.toString('hex', poolAt, (poolAt += 6));
}
