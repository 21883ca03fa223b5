import { expect } from 'chai';
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { repoRoot } from '../support/fixtures.js';
import { requireRoot, requireTool } from '../support/kernel.js';
import { runNodeUnprivileged } from '../support/processes.js';

const compiledTests = fileURLToPath(new URL('..', import.meta.url));
/** Run node as root with every capability dropped: bpf(2) is then EPERM, whatever the sysctls. */
function withoutCapabilities(args: string[]): { status: number | null; stdout: string; stderr: string } {
  return runNodeUnprivileged('no-capabilities', args, { cwd: repoRoot, timeoutMs: 120_000 });
}

describe('the fake tier is a real fake: it runs with every capability dropped', function () {
  this.timeout(150_000);
  before(function () {
    requireRoot(this);
    requireTool(this, 'setpriv');
  });

  it('where bpf(2) is refused (EPERM), every test of test/loader-fake passes, none skipped', () => {
    const syscall = join(compiledTests, '..', 'syscall', 'index.js');
    const probe = withoutCapabilities(['--input-type=module', '-e',
      `const { mapCreate } = await import(${JSON.stringify(syscall)}); try { mapCreate({ map_type: 2, key_size: 4, value_size: 4, max_entries: 1, map_flags: 0 }); console.log('created'); } catch (e) { console.log(e.errnoName); }`]);
    expect(probe.stdout.trim(), probe.stderr).to.equal('EPERM');
    const files = readdirSync(join(compiledTests, 'loader-fake')).filter((f) => f.endsWith('.test.js')).map((f) => join(compiledTests, 'loader-fake', f));
    expect(files.length).to.be.at.least(2);
    const mocha = join(repoRoot, 'node_modules', 'mocha', 'bin', 'mocha.js');
    const run = withoutCapabilities([mocha, '--no-config', '--reporter', 'json', '--require', join(compiledTests, 'support', 'hooks.js'), ...files]);
    const report = JSON.parse(run.stdout) as { stats: { passes: number; failures: number; pending: number } };
    expect(report.stats.failures, run.stdout.slice(0, 2000)).to.equal(0);
    expect(report.stats.pending).to.equal(0);
    expect(report.stats.passes).to.be.at.least(18);
  });
});
