/**
 * Issue 15, defect 5: an operations module (or config file) with a syntax error names the
 * file, line and column and the parser's message, without --verbose, for TypeScript
 * (esbuild through tsx) and JavaScript (V8) alike.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { cli, ensureBuilt, tempDir, writeFiles } from '../helpers/cli.js';

beforeAll(ensureBuilt, 300_000);

const noStack = (stderr: string) => expect(stderr).not.toMatch(/\n\s+at /);

describe('a module with a syntax error', () => {
  it('.ts, .mjs, a .ts importing a broken .ts, a config file: file:line:column and the message', async () => {
    const dir = tempDir();
    writeFiles(dir, {
      'broken.ts': `export default {\n  upper: async (uri: string) => uri.toUpperCase( ,\n};\n`,
      'broken.mjs': `export default {\n  upper: async (uri) => { return uri +; },\n};\n`,
      'main.ts': `import { helper } from './lib/helper.ts';\nexport default { upper: helper };\n`,
      'lib/helper.ts': `export const helper = async (uri: string) => {\n\n  return uri.toUpperCase(;\n};\n`,
      'cfg/backache.config.mjs': `export default { broker: 'memory:' \n  prefix: 'x' };\n`,
    });
    const ts = await cli(['work', '-o', 'broken.ts'], { cwd: dir });
    expect(ts.code).toBe(2);
    expect(ts.stderr).toMatch(/^backache: operations module broken\.ts has a syntax error: broken\.ts:2:50: Unexpected ","\n/); // 1-based, as for .mjs
    expect(ts.stderr).not.toMatch(/Transform failed/);
    noStack(ts.stderr);

    const mjs = await cli(['work', '-o', 'broken.mjs'], { cwd: dir });
    expect(mjs.code).toBe(2);
    expect(mjs.stderr).toMatch(/^backache: operations module broken\.mjs has a syntax error: broken\.mjs:2:39: Unexpected token ';'\n/);
    noStack(mjs.stderr);

    const deep = await cli(['work', '-o', 'main.ts'], { cwd: dir });
    expect(deep.code).toBe(2);
    expect(deep.stderr).toMatch(/^backache: operations module main\.ts has a syntax error: lib\/helper\.ts:3:\d+: .+\n/);

    const cfg = await cli(['stats', '--config', 'cfg/backache.config.mjs'], { cwd: dir });
    expect(cfg.code).toBe(2);
    expect(cfg.stderr).toMatch(/^backache: config file .*backache\.config\.mjs cannot be loaded: syntax error: cfg\/backache\.config\.mjs:2:3: Unexpected identifier 'prefix'\n/);
  });
});
