/**
 * Redis restarted (appendonly) while `submit` runs: the client reconnects by itself and
 * every request `submit` reported as accepted is processed after the restart.
 */
import { spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { createBackache } from '../../src/index.js';
import { startRedisServer, type RedisServer } from '../helpers/redis-server.js';
import { sleep, waitUntil } from '../helpers/wait.js';
import { bin, ensureBuilt, tempDir, TEST_OPS, writeFiles } from '../helpers/cli.js';

let server: RedisServer;
beforeAll(async () => {
  await ensureBuilt();
  server = await startRedisServer({ appendonly: true });
}, 180_000);
afterAll(async () => server?.stop());

it('submit survives a Redis restart; every accepted request is processed afterwards', async () => {
  const cwd = tempDir();
  writeFiles(cwd, { 'ops.mjs': TEST_OPS });
  const prefix = `r${randomUUID().slice(0, 8)}`;
  const child = spawn(process.execPath, [bin(), 'submit', '--op', 'upper', '-o', 'ops.mjs', '--broker', server.url, '--prefix', prefix, '--batch-size', '20', '--json'], {
    cwd,
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d) => (stdout += d));
  child.stderr.on('data', (d) => (stderr += d));
  const exited = new Promise<number | null>((r) => child.on('close', (code) => r(code)));
  const uris = Array.from({ length: 600 }, (_, i) => `https://x/${i}`);
  child.stdin.write(uris.slice(0, 300).join('\n') + '\n');
  // Restart only once submit has connected and delegated (its start-up is slow on a loaded
  // machine; opening against a server that is down fails fast, by design).
  const probe = new Redis(server.url);
  await waitUntil(async () => (await probe.keys(`{${prefix}:*`)).length > 0, 'submit delegating', 30_000);
  probe.disconnect();
  await sleep(200);
  await server.restart(); // while submit is running and holds its connections
  child.stdin.write(uris.slice(300).join('\n') + '\n');
  child.stdin.end();
  const code = await exited;
  expect(code, stderr).toBe(0);
  const summary = JSON.parse(stdout.trim().split('\n').at(-1)!) as { read: number; delegated: number; hits: number; errors: number };
  expect(summary).toMatchObject({ read: 600, delegated: 600, errors: 0 });

  // A worker started after the restart processes every accepted request.
  const app = await createBackache({ operations: { upper: async (u) => u.toUpperCase() }, broker: server.url, prefix });
  const w = app.startWorker({ concurrency: 20 });
  await waitUntil(async () => (await app.getMany('upper', uris)).every((e) => e !== undefined), 'all 600 results', 30_000);
  expect((await app.getMany('upper', uris)).map((e) => e!.value)).toEqual(uris.map((u) => u.toUpperCase()));
  await w.stop();
  await app.close();
}, 90_000);
