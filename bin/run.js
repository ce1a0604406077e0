#!/usr/bin/env node
// The backache CLI (built: dist/commands). See bin/dev.js to run the TypeScript sources.
import { readFileSync } from 'node:fs';

// A reader that goes away early (`backache run … | head`) is not an error: stop writing
// (src/cli/output.ts drops further lines) and finish normally.
for (const stream of [process.stdout, process.stderr]) {
  stream.on('error', (e) => {
    if (e.code !== 'EPIPE') throw e;
  });
}

// `--version` alone is answered before loading oclif (half of the CLI's start-up time),
// in oclif's own format: name/version platform-arch node-version.
const args = process.argv.slice(2);
if (args.length === 1 && (args[0] === '--version' || args[0] === '-v' || args[0] === 'version')) {
  const pkg = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8'));
  process.stdout.write(`${pkg.name}/${pkg.version} ${process.platform}-${process.arch} node-${process.version}\n`);
} else {
  const { execute } = await import('@oclif/core');
  await execute({ dir: import.meta.url });
}
// Every command closes what it opened. Should a timer or a driver still hold the event
// loop, do not keep a script waiting: leave shortly after (results are already written;
// stdout and stderr are synchronous for files and pipes on POSIX). The exit code stays.
setTimeout(() => {
  if (process.env.BACKACHE_DEBUG_HANDLES) console.error('backache: still active at exit:', process.getActiveResourcesInfo());
  process.exit();
}, 250).unref();
