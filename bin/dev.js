#!/usr/bin/env node
// Run the CLI from the TypeScript sources (src/commands) through tsx, without building:
//   ./bin/dev.js run examples/urls.txt --op stats -o examples/operations.ts
// The manifest of a build (oclif.manifest.json, which points at dist/) is ignored here.
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { register } from 'tsx/esm/api';
import { Config, Plugin, execute, settings } from '@oclif/core';

// TypeScript sources from here on (resolved from this package, whatever the working directory).
register();

const root = fileURLToPath(new URL('..', import.meta.url));
const pjson = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8'));
const commands = pjson.oclif.commands;
pjson.oclif.commands =
  typeof commands === 'string' ? './src/commands' : { ...commands, target: commands.target.replace(/^\.\/dist\//, './src/') };
pjson.oclif.hooks = Object.fromEntries(
  Object.entries(pjson.oclif.hooks ?? {}).map(([event, file]) => [event, file.replace(/^\.\/dist\//, './src/').replace(/\.js$/, '.ts')]),
);
// tsx is registered above: no path rewriting through tsconfig.
settings.enableAutoTranspile = false;
const plugin = new Plugin({ root, isRoot: true, pjson, ignoreManifest: true });
await plugin.load();
const config = await Config.load({ root, pjson, plugins: new Map([[plugin.name, plugin]]) });
await execute({ loadOptions: config, development: true });
setTimeout(() => process.exit(), 250).unref();
