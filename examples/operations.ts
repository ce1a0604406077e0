/**
 * An operations module that works offline, for the README's first command:
 *
 *   npm ci && npm run build
 *   ./bin/run.js run examples/urls.txt --op stats -o examples/operations.ts
 *   ./bin/run.js run examples/urls.txt --op stats -o examples/operations.ts   # again: all hits
 *
 * URIs are `file://` URLs. Standard ones are absolute (`file:///home/me/notes.txt`); so that
 * the examples work from a fresh clone in any directory, these operations also accept
 * `file:RELATIVE/PATH`, resolved against the working directory (percent-escapes such as
 * `%20` are decoded; see examples/urls.txt). Anything else is quarantined.
 */
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { readFile, stat } from 'node:fs/promises';
import { resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
// In your own project: import { defineOperations, type OperationContext } from 'backache';
import { defineOperations, type OperationContext } from '../src/core/operations.js';

/** The local path of a `file:` URI, or quarantine the request (retrying would not help). */
function pathOf(uri: string, ctx: OperationContext): string {
  if (uri.startsWith('file://')) return fileURLToPath(uri);
  if (uri.startsWith('file:')) return resolve(decodeURIComponent(uri.slice('file:'.length)));
  return ctx.quarantine({ reason: 'not a file: URI', hint: 'use file:///absolute/path or file:relative/path' });
}

/** Read errors that retrying will not fix go straight to quarantine, with the reason. */
function quarantineIfMissing(e: unknown, ctx: OperationContext): never {
  const code = (e as NodeJS.ErrnoException)?.code;
  if (code === 'ENOENT' || code === 'EISDIR' || code === 'EACCES') ctx.quarantine({ reason: code, path: (e as NodeJS.ErrnoException).path });
  throw e;
}

export default defineOperations({
  /** Size, lines and words of a text file. */
  stats: {
    run: async (uri, ctx) => {
      const path = pathOf(uri, ctx);
      try {
        const [text, st] = await Promise.all([readFile(path, 'utf8'), stat(path)]);
        return {
          bytes: st.size,
          lines: text === '' ? 0 : text.split('\n').length - (text.endsWith('\n') ? 1 : 0),
          words: text.split(/\s+/).filter(Boolean).length,
        };
      } catch (e) {
        return quarantineIfMissing(e, ctx);
      }
    },
    ttl: '1h', // fresh for an hour, then served stale while one refresh runs
    grace: '1d',
  },

  /** sha256 of a file's bytes, streamed (any size). */
  checksum: {
    run: async (uri, ctx) => {
      const path = pathOf(uri, ctx);
      try {
        const hash = createHash('sha256');
        for await (const chunk of createReadStream(path, { signal: ctx.signal })) hash.update(chunk as Buffer);
        return { sha256: hash.digest('hex') };
      } catch (e) {
        return quarantineIfMissing(e, ctx);
      }
    },
    concurrency: 4,
    timeout: '1m',
  },
});
