import { randomUUID } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { startFixture } from '../helpers/processes.js';
import { describeRegion } from './scenarios.js';

const dir = mkdtempSync(join(tmpdir(), 'backache-region-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describeRegion('sqlite', async () => `sqlite:${join(dir, `${randomUUID()}.db`)}`);
describeRegion('sqlite, with l1', async () => `sqlite:${join(dir, `${randomUUID()}.db`)}`, { l1: {} });

describe('region on sqlite across processes', () => {
  it('two processes on one file run one creator between them', async () => {
    const log = join(dir, 'creators.log');
    const env = { STORE: `sqlite:${join(dir, 'shared.db')}`, KEY: 'k', LOG: log, CREATE_MS: '500', START_AT: String(Date.now() + 2500) };
    const procs = await Promise.all([startFixture('region-creator.ts', env, false), startFixture('region-creator.ts', env, false)]);
    const codes = await Promise.all(procs.map((p) => p.exited));
    expect(codes).toEqual([0, 0]);
    const creators = readFileSync(log, 'utf8').split('\n').filter(Boolean);
    expect(creators).toHaveLength(1);
    const winner = Number(creators[0]);
    for (const p of procs) {
      const values = JSON.parse(p.output().trim().split('\n').at(-1)!) as { by: number }[];
      expect(values).toHaveLength(10);
      expect(values.every((v) => v.by === winner)).toBe(true);
    }
  });
});
