import { BaseCommand } from './base.js';

export default class Doctor extends BaseCommand<typeof Doctor> {
  static override summary = 'Check the configuration, the operations module and every backend, and say what to fix.';
  static override description = `Shows where each setting comes from (flag, environment, config file, default), loads the operations module, checks each store (SQLite: the file is writable and in WAL mode; Redis: reachable, version, eviction policy; MongoDB: reachable, version, indexes), opens the deployment and reads from it, and looks for live workers.
Exit 0 when nothing failed (warnings allowed), 2 for a configuration problem, 3 when a backend cannot be reached. Passwords are never printed.`;
  static override examples = ['<%= config.bin %> doctor', '<%= config.bin %> doctor --broker redis://localhost:6379 --cache mongodb://localhost/backache', '<%= config.bin %> doctor --json'];
  static override enableJsonFlag = true;

  async run() {
    const { runDoctor, formatCheck } = await import('../cli/doctor.js');
    const report = await runDoctor(this.flags, this.argv, (c) => {
      if (!this.jsonEnabled()) this.log(formatCheck(c));
    });
    const warnings = report.checks.filter((c) => c.status === 'warn').length;
    if (!this.jsonEnabled()) this.log(report.ok ? `\n${warnings ? `no failure (${warnings} warning${warnings === 1 ? '' : 's'})` : 'all good'}` : '\nsome checks failed: see "fix:" above');
    if (report.exitCode) process.exitCode = report.exitCode;
    return report;
  }
}
