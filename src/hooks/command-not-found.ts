/**
 * oclif's `command_not_found` hook: an unknown command is a usage error (exit 2) in
 * backache's words, naming the nearest command as the user would type it (topics with a
 * space: `quarantine lst` → `quarantine list`).
 */
import type { Hook } from '@oclif/core';
import { EXIT } from '../cli/errors.js';
import { nearest } from '../cli/suggest.js';

const hook: Hook<'command_not_found'> = async function ({ id, config }) {
  const bin = config.bin;
  const typed = id.replace(/:/g, ' ');
  const commands = config.commands.filter((c) => !c.hidden).map((c) => c.id.replace(/:/g, ' '));
  const near = nearest(typed, commands);
  process.stderr.write(`${bin}: unknown command ${typed}${near ? `: did you mean ${near}?` : ''}\n  hint: ${bin} --help lists every command\n`);
  process.exitCode = EXIT.usage;
};

export default hook;
