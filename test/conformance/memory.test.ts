import { randomUUID } from 'node:crypto';
import { openBackend } from '../../src/core/backends/index.js';
import { describeBackend, describeWorkerSteps } from './suites.js';
import { describeRegionSteps } from './region-steps-suite.js';

describeBackend('memory', () => openBackend({ broker: `memory:${randomUUID()}` }));

// The cache in another store than the broker: the broker's steps composed around it.
describeWorkerSteps('memory broker, memory cache of another deployment', () => openBackend({ broker: `memory:${randomUUID()}`, cache: `memory:${randomUUID()}` }));

describeRegionSteps('memory', () => openBackend({ broker: `memory:${randomUUID()}` }), { feed: true });
describeRegionSteps('memory broker, memory cache of another deployment (composed)', () => openBackend({ broker: `memory:${randomUUID()}`, cache: `memory:${randomUUID()}` }));
