import { randomUUID } from 'node:crypto';
import { openBackend } from '../../src/core/backends/index.js';
import { describeBackend } from './suites.js';

describeBackend('memory', () => openBackend({ broker: `memory:${randomUUID()}` }));
