import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe } from 'vitest';
import { crossProcessTests } from './cross-process.js';
import { faultTests } from './faults.js';
import { describeEngineScenarios } from './scenarios.js';

const dir = mkdtempSync(join(tmpdir(), 'backache-engine-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describeEngineScenarios('sqlite', async () => ({ broker: `sqlite:${join(dir, `${randomUUID()}.db`)}` }));
describeEngineScenarios('sqlite with l1', async () => ({ broker: `sqlite:${join(dir, `${randomUUID()}.db`)}`, l1: {} }));

let n = 0;
describe('engine on sqlite across processes', () => {
  crossProcessTests({ fresh: () => ({ broker: `sqlite:${join(dir, `x${++n}.db`)}`, log: join(dir, `x${n}.log`) }) });
});

let f = 0;
describe('worker path faults on sqlite', () => {
  faultTests({ fresh: () => ({ broker: `sqlite:${join(dir, `f${++f}.db`)}`, prefix: 'backache', log: join(dir, `f${f}.log`) }) });
});
