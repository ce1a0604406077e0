import { randomUUID } from 'node:crypto';
import { rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe } from 'vitest';
import { openBackend } from '../../src/core/backends/index.js';
import { describeRegionSteps } from './region-steps-suite.js';
import { describeBackend, describeCacheStore, describeChangeFeed, describeLocker, describePendingSet } from './suites.js';

const dir = join(tmpdir(), `backache-sqlite-conformance-${randomUUID()}`);
afterAll(() => rmSync(dir, { recursive: true, force: true }));

// Most opens: one file for the whole suite, every open a deployment of its own (a prefix).
const shared = join(dir, 'shared.db');
describeBackend('sqlite (one file, a prefix per test)', () => openBackend({ broker: `sqlite:${shared}`, prefix: `t-${randomUUID()}` }));

// Some: a fresh file per open (the schema is created on first use).
describe('sqlite (a file per test)', () => {
  const fresh = () => openBackend({ broker: `sqlite:${join(dir, `${randomUUID()}.db`)}` });
  describeCacheStore('sqlite fresh file', fresh);
  describeLocker('sqlite fresh file', fresh);
  describePendingSet('sqlite fresh file', fresh);
});

describeRegionSteps('sqlite', () => openBackend({ broker: `sqlite:${shared}`, prefix: `t-${randomUUID()}` }), { feed: true });
// Two opens of one file and prefix: in this process they share its connection, and the
// watcher (its own connection) still sees their commits; the child is a process of its own.
describeChangeFeed('sqlite', (d) => openBackend({ broker: `sqlite:${shared}`, prefix: d }), {
  childEnv: (d) => ({ BROKER: `sqlite:${shared}`, PREFIX: d }),
});
describeChangeFeed('sqlite cache beside a memory broker', (d) => openBackend({ broker: `memory:${d}`, cache: `sqlite:${shared}`, prefix: d }));
