import { expect } from 'chai';
import { join } from 'node:path';
import { runLoadTime } from '../../bench/loadTime.js';
import { addressReader, recordLoadFloor } from '../../bench/loadFloor.js';
import { compileLibrary } from '../../bench/compile.js';
import { openBpfFdCount } from '../../syscall/index.js';
import { fixturePath, repoRoot } from '../support/fixtures.js';
import { processFdCount, requireKernel, requireTool } from '../support/kernel.js';

/**
 * The `load` section of `npm run bench`, run for two rounds: the code that
 * produces its figures (the C loader, the floor's record and replay) must
 * keep working between the runs that someone reads the figures of.
 */
describe('kernel: the load benchmark runs', function () {
  this.timeout(120000);

  before(function () {
    requireKernel(this);
    requireTool(this, 'cc');
  });

  it('every fixture both loaders take gets C, floor, sync and async figures', async () => {
    const fdsBefore = processFdCount();
    const { rows, skipped } = await runLoadTime(repoRoot, 2, 1);
    expect(rows.map((r) => r.object)).to.include.members(['sockex1_kern.o', 'many_maps_kern.o', 'tailcall_kern.o']);
    for (const row of rows) {
      for (const us of [row.cUs, row.syncUs, row.asyncUs, row.floorUs!, row.asyncBpfUs]) expect(us, row.object).to.be.greaterThan(0);
      // a difference of paired rounds, so any sign; NaN would mean the rounds were not paired
      expect(Number.isFinite(row.asyncOverUs), row.object).to.equal(true);
    }
    expect(skipped.filter((line) => line.includes('no floor'))).to.deep.equal([]);
    expect(processFdCount()).to.equal(fdsBefore);
    expect(openBpfFdCount()).to.equal(0);
  });

  it('the floor replays the load for real: the same programs, loaded again, with the same map fds', () => {
    const lib = compileLibrary(join(repoRoot, 'bench', 'c', 'loadbench.c'), join(repoRoot, 'bench', 'build', 'libloadbench.so'));
    // tail calls: a map update whose key and value the recording must have copied
    const floor = recordLoadFloor(fixturePath('tailcall_kern.o'), addressReader(lib));
    if (typeof floor === 'string') expect.fail(floor);
    // 2 maps, 3 programs, 2 of them in tail-call slots; every call of a replay must succeed or it throws
    expect(floor.bpfCalls).to.equal(7);
    const fdsBefore = processFdCount();
    for (let i = 0; i < 3; i++) expect(floor.replayNs()).to.be.greaterThan(0);
    expect(processFdCount()).to.equal(fdsBefore);
  });
});
