// Writes oclif.manifest.json from the built commands (dist/commands), so that the CLI
// does not import every command file at each start (oclif reads the manifest instead).
// Run by `npm run build`; the file is not committed (.gitignore).
import { rmSync, writeFileSync } from 'node:fs';
import { Config } from '@oclif/core';

rmSync('oclif.manifest.json', { force: true });
const config = await Config.load({ root: process.cwd() });
const plugin = config.rootPlugin;
const manifest = { commands: plugin.manifest.commands, version: plugin.manifest.version };
const ids = Object.keys(manifest.commands);
if (ids.length === 0) throw new Error('manifest: no command found under dist/commands');
writeFileSync('oclif.manifest.json', `${JSON.stringify(manifest, null, 2)}\n`);
console.log(`oclif.manifest.json: ${ids.length} commands`);
