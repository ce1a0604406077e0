#!/usr/bin/env node
// The backache CLI (built: dist/commands). See bin/dev.js to run the TypeScript sources.
import { execute } from '@oclif/core';

// A reader that goes away early (`backache run … | head`) is not an error: stop writing
// (src/cli/output.ts drops further lines) and finish normally.
for (const stream of [process.stdout, process.stderr]) {
  stream.on('error', (e) => {
    if (e.code !== 'EPIPE') throw e;
  });
}

await execute({ dir: import.meta.url });
// Every command closes what it opened. Should a timer or a driver still hold the event
// loop, do not keep a script waiting: leave shortly after (results are already written;
// stdout and stderr are synchronous for files and pipes on POSIX). The exit code stays.
setTimeout(() => {
  if (process.env.BACKACHE_DEBUG_HANDLES) console.error('backache: still active at exit:', process.getActiveResourcesInfo());
  process.exit();
}, 250).unref();
