import { randomUUID } from 'node:crypto';
import { describeEngineScenarios } from './scenarios.js';

// Every engine scenario with the L1 tier on, over the memory store's change feed.
describeEngineScenarios('memory with l1', async () => ({ broker: `memory:${randomUUID()}`, l1: {} }));
