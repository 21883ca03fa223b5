import { expect } from 'chai';
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { repoRoot } from '../support/fixtures.js';
import { requireKernel } from '../support/kernel.js';

/**
 * The README starts with the two commands that set up and run everything on
 * a fresh machine. CI runs the second one (.ci/run ends with `npm test`);
 * this runs the first one's command the way a user types it, through npx.
 */
describe("docs: the README's quick start", function () {
  // npx and a load on a machine busy with other test runs
  this.timeout(240_000);
  const readme = readFileSync(join(repoRoot, 'README.md'), 'utf8');
  const first = /```sh\n([^]*?)```/.exec(readme)?.[1]?.trim().split('\n') ?? [];

  it('is the first code block, under ## Quick start: install and load a bundled fixture, then the tests', () => {
    expect(readme.indexOf('## Quick start'), 'a Quick start heading').to.be.within(0, readme.indexOf('```sh'));
    expect(readme.indexOf('## Quick start'), 'the first heading after the title').to.equal(readme.indexOf('## '));
    expect(first).to.deep.equal(['npm install && npx load-kern-object fixtures/map_def28_kern.o', 'npm test']);
    expect(readme.split('\n').length, 'the README is a front page').to.be.at.most(200);
  });

  it('CI runs the tests the way the README says', () => {
    const ci = readFileSync(join(repoRoot, '.ci', 'run'), 'utf8').trim().split('\n');
    expect(ci[ci.length - 1]).to.equal('npm test');
  });

  it('npx load-kern-object loads the fixture in the checkout', function () {
    requireKernel(this);
    const command = first[0]!.replace(/^npm install && /, '');
    const run = spawnSync('bash', ['-c', command], { cwd: repoRoot, encoding: 'utf8', timeout: 180_000 });
    expect(run.status, `${run.error ?? ''}${run.stderr}`).to.equal(0);
    expect(run.stdout).to.match(/^fixtures\/map_def28_kern\.o\nmaps \(8\):/).and.match(/array_of_maps\s+array_of_maps/);
  });
});
