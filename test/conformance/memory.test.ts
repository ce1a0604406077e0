import { randomUUID } from 'node:crypto';
import { openBackend } from '../../src/core/backends/index.js';
import { describeRegionSteps } from './region-steps-suite.js';
import { describeBackend, describeChangeFeed, describeWorkerSteps } from './suites.js';

describeBackend('memory', () => openBackend({ broker: `memory:${randomUUID()}` }));

// The cache in another store than the broker: the broker's steps composed around it.
describeWorkerSteps('memory broker, memory cache of another deployment', () => openBackend({ broker: `memory:${randomUUID()}`, cache: `memory:${randomUUID()}` }));

describeRegionSteps('memory', () => openBackend({ broker: `memory:${randomUUID()}` }), { feed: true });
describeRegionSteps('memory broker, memory cache of another deployment (composed)', () => openBackend({ broker: `memory:${randomUUID()}`, cache: `memory:${randomUUID()}` }));
// Two opens of one memory deployment share its store, as two clients of one broker would.
describeChangeFeed('memory', (d) => openBackend({ broker: `memory:${d}` }));
