/**
 * Every command's `--help` examples, as written (issue 15, defect 9): each is run with
 * bash (pipefail) in a temp deployment (the default SQLite store, an operations fixture
 * with every operation the examples name as operations.ts, examples/ and a few files) with
 * a worker running, and must exit 0 or the code its command documents. Examples that
 * name another deployment (a server URL) are not run, and say so. `--help` shows each one
 * whole at 80 columns: a long example is continued between words, never cut inside one.
 *
 * The examples come from the command classes (the text `--help` renders); commands
 * that run until interrupted (`work`) are started, must say they started, and must exit 0
 * on SIGTERM.
 */
import { spawn } from 'node:child_process';
import { chmodSync, readdirSync, symlinkSync } from 'node:fs';
import { join, relative } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bin, cli, ensureBuilt, ROOT, startCli, tempDir, writeFiles } from '../helpers/cli.js';
import { waitUntil } from '../helpers/wait.js';

type Example = string | { description: string; command: string };

/** Every command (as typed: `quarantine list`) and its examples as `--help` renders them. */
async function commandExamples(): Promise<{ id: string; examples: string[] }[]> {
  const root = join(ROOT, 'src', 'commands');
  const files = (readdirSync(root, { recursive: true }) as string[]).filter((f) => f.endsWith('.ts') && f !== 'base.ts').sort();
  const out = [];
  for (const f of files) {
    const mod = (await import(join(root, f))) as { default: { examples?: Example[] } };
    const id = relative(root, join(root, f)).replace(/\.ts$/, '').split('/').join(' ');
    const examples = (mod.default.examples ?? []).map((e) => (typeof e === 'string' ? e : e.command).replaceAll('<%= config.bin %>', 'backache'));
    out.push({ id, examples });
  }
  return out;
}

const COMMANDS = await commandExamples();

/** Examples that are about another deployment (a server, a system path): not run here. */
const OTHER_DEPLOYMENT = /--(broker|cache)[ =](?!sqlite:\.)/;
/** Commands that run until interrupted. */
const LONG_RUNNING = /^backache work\b/;
/** Commands that print until interrupted: they must print, and exit 0 on SIGTERM. */
const WATCHING = /^backache stats\b.* --watch\b/;
/** Non-zero exits that the command documents, for these examples. */
const DOCUMENTED: { match: RegExp; code: number; why: string }[] = [
  { match: /^backache top\b/, code: 2, why: 'top needs a terminal (its description; exit 2 pointing to stats --json)' },
  { match: /^backache quarantine show 0m3x1k2a9f4e1b2c3d4e5f/, code: 1, why: 'quarantine show: "Exit 1 when there is no such item"' },
  { match: /^backache quarantine (replay|purge) 0m3x1k2a9f4e1b2c3d4e5f$/, code: 1, why: 'quarantine replay/purge: "Exit 1 when an ID names no item"' },
  { match: /^backache get --op title https:\/\/example\.com\/ https:\/\/example\.org\//, code: 1, why: 'get: "1 when some are missing" (example.org was never computed)' },
  { match: /^backache jobs show 0m3x1k2a9f4e1b2c3d4e5f/, code: 1, why: 'jobs show: "Exit 1 when no queue holds the job"' },
];

/** Run first (they fill the store the others read), and last (they empty it). */
const FIRST = ['run', 'submit', 'warm', 'call'];
const LAST = ['invalidate', 'quarantine purge', 'cleanup'];
const rank = (id: string) => (FIRST.includes(id) ? FIRST.indexOf(id) - 100 : LAST.includes(id) ? LAST.indexOf(id) + 100 : 0);

const OPERATIONS = `
// Every operation the --help examples name, offline.
const value = (op: string) => async (uri: string, ctx: { kwargs: Record<string, unknown> }) => ({ op, uri, kwargs: ctx.kwargs });
export default {
  title: value('title'),
  thumbnail: value('thumbnail'),
  feed: value('feed'),
  checksum: value('checksum'),
  stats: value('stats'),
};
`;

function env(pathDir: string) {
  const e: Record<string, string> = {};
  for (const [k, v] of Object.entries(process.env)) if (!k.startsWith('BACKACHE_') && v !== undefined) e[k] = v;
  for (const k of ['NODE_OPTIONS', 'VITEST', 'NODE_ENV']) delete e[k];
  e.PATH = `${pathDir}:${process.env.PATH}`;
  return e;
}

function sh(command: string, cwd: string, pathDir: string) {
  const child = spawn('bash', ['-o', 'pipefail', '-c', command], { cwd, env: env(pathDir), stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
  child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
  const exited = new Promise<number | null>((resolve) => child.on('close', (code) => resolve(code)));
  const kill = setTimeout(() => child.kill('SIGKILL'), 60_000);
  void exited.then(() => clearTimeout(kill));
  return { child, exited, out: () => `--- stdout:\n${stdout}\n--- stderr:\n${stderr}` };
}

describe('--help examples run as written', () => {
  let dir: string;
  let pathDir: string;
  let worker: ReturnType<typeof startCli>;

  beforeAll(async () => {
    await ensureBuilt();
    dir = tempDir('backache-examples-');
    pathDir = tempDir('backache-bin-');
    writeFiles(pathDir, { backache: `#!/bin/sh\nexec "${process.execPath}" "${bin()}" "$@"\n` });
    chmodSync(join(pathDir, 'backache'), 0o755);
    symlinkSync(join(ROOT, 'examples'), join(dir, 'examples'));
    writeFiles(dir, {
      'operations.ts': OPERATIONS,
      'urls.txt': 'https://example.com/\nhttps://example.com/a\nhttps://example.com/b\n',
      'data/one.txt': 'one\n',
      'data/two.txt': 'two words\n',
    });
    worker = startCli(['work', '-o', 'operations.ts'], { cwd: dir, timeoutMs: 600_000 });
    await worker.waitFor(/started/);
  }, 300_000);

  afterAll(async () => {
    await worker?.stop('SIGTERM');
  });

  const all = COMMANDS.flatMap((c) => c.examples.map((example) => ({ id: c.id, example }))).sort((a, b) => rank(a.id) - rank(b.id));

  it('every command has examples', () => {
    for (const c of COMMANDS) expect(c.examples.length, c.id).toBeGreaterThan(0);
    const skipped = all.filter((e) => OTHER_DEPLOYMENT.test(e.example)).map((e) => e.example);
    if (skipped.length) console.info(`not run (another deployment):\n  ${skipped.join('\n  ')}`);
  });

  it.each(all.filter((e) => !OTHER_DEPLOYMENT.test(e.example)))('$example', async ({ example }) => {
    if (LONG_RUNNING.test(example)) {
      const r = sh(example, dir, pathDir);
      let err = '';
      r.child.stderr.on('data', (d: Buffer) => (err += d.toString()));
      await waitUntil(() => /started/.test(err) || r.child.exitCode !== null, `${example} to start`, 30_000);
      expect(err, r.out()).toMatch(/started/);
      r.child.kill('SIGTERM');
      expect(await r.exited, r.out()).toBe(0);
      return;
    }
    if (WATCHING.test(example)) {
      const r = sh(example, dir, pathDir);
      let out = '';
      r.child.stdout.on('data', (d: Buffer) => (out += d.toString()));
      await waitUntil(() => out.length > 0 || r.child.exitCode !== null, `${example} to print`, 30_000);
      r.child.kill('SIGTERM');
      expect(await r.exited, r.out()).toBe(0);
      return;
    }
    const r = sh(example, dir, pathDir);
    const code = await r.exited;
    const documented = DOCUMENTED.find((d) => d.match.test(example));
    expect(code, `${documented ? documented.why : 'exit 0'}\n${r.out()}`).toBe(documented?.code ?? 0);
  }, 90_000);
});

describe('--help shows each example whole at 80 columns', () => {
  beforeAll(ensureBuilt, 300_000);

  it.each(COMMANDS)('$id --help', async ({ id, examples }) => {
    const r = await cli([...id.split(' '), '--help'], { cwd: tempDir(), env: { COLUMNS: '80' } });
    expect(r.code).toBe(0);
    const section = r.stdout.slice(r.stdout.indexOf('\nEXAMPLES\n'), r.stdout.indexOf('\nFLAG DESCRIPTIONS\n') >>> 0);
    // oclif continues a long command on the next line after " \": join those back.
    const joined = section.replace(/ \\\n\s+/g, ' ');
    for (const e of examples) expect(joined, `${id}: ${e}`).toContain(e.startsWith('backache ') ? `$ ${e}` : e);
  });

  it('no example suggests that kwargs select a variant (kwargs are not part of the cache key)', () => {
    for (const { id, examples } of COMMANDS) for (const e of examples) expect(e, id).not.toMatch(/kwargs[^|]*(width|lang|size|format)/);
  });
});
