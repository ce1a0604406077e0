// Copies non-TypeScript assets (Lua scripts) next to the compiled code.
import { cpSync, existsSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';

function walk(dir) {
  for (const name of readdirSync(dir)) {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) walk(p);
    else if (p.endsWith('.lua') || p.endsWith('.sql')) cpSync(p, p.replace(/^src/, 'dist'));
  }
}
if (existsSync('src')) walk('src');
