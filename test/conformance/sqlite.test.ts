import { randomUUID } from 'node:crypto';
import { rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe } from 'vitest';
import { openBackend } from '../../src/core/backends/index.js';
import { describeBackend, describeCacheStore, describeLocker, describePendingSet } from './suites.js';
import { describeRegionSteps } from './region-steps-suite.js';

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
