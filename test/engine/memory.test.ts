import { randomUUID } from 'node:crypto';
import { describeEngineScenarios } from './scenarios.js';

describeEngineScenarios('memory', async () => ({ broker: `memory:${randomUUID()}` }));
