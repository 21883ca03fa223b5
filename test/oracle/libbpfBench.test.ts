import { expect } from 'chai';
import { execFileSync } from 'node:child_process';
import { runLibbpfLoad } from '../../bench/libbpfLoad.js';
import { repoRoot } from '../support/fixtures.js';
import { requireFeature, requireKernel } from '../support/kernel.js';
import { libbpfOracleBinary, libbpfOracleMissing } from '../support/libbpfOracle.js';

describe('bench: libbpf load time on the modern corpus', function () {
  this.timeout(120000);

  before(function () {
    requireKernel(this);
    requireFeature(this, 'the libbpf oracle (cc, libbpf-dev, bpftool)', libbpfOracleMissing());
  });

  it('times libbpf, and another loader beside it, leaving out what libbpf does not load whole', async function () {
    const oracle = libbpfOracleBinary();
    const loaded: string[] = [];
    // any loader of the objects will do to prove the side-by-side path: the oracle process here
    const other = (path: string, pinRoot: string): void => {
      loaded.push(path);
      execFileSync(oracle, [path, '--no-hold', '--pin-root', pinRoot], { stdio: 'ignore' });
    };
    const result = await runLibbpfLoad(repoRoot, { rounds: 3, warmup: 1, other, only: ['minimal.bpf.o', 'pin_by_name.bpf.o', 'tcx.bpf.o'] });
    expect(result.libbpfVersion).to.match(/^1\.\d+$/);
    expect(result.rows.map((r) => r.object)).to.deep.equal(['minimal.bpf.o', 'pin_by_name.bpf.o']);
    for (const row of result.rows) {
      expect(row.libbpfUs).to.be.greaterThan(0);
      expect(row.otherUs).to.be.greaterThan(0);
    }
    expect(result.skipped).to.deep.equal(['tcx.bpf.o: libbpf does not load it whole here (errno 22)']);
    // the first try, one warm-up round, three timed rounds: of each object both load whole
    expect(loaded.filter((p) => p.endsWith('/minimal.bpf.o'))).to.have.length(5);
  });
});
