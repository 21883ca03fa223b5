import { expect } from 'chai';
import { requireKernel } from '../support/kernel.js';
import { closeSync, openSync } from 'node:fs';
import { overrideBpfSyscall } from '../../syscall/index.js';
import { fixtureBytes } from '../support/fixtures.js';
import { runMutant, type FuzzReport } from './harness.js';
import { fuzzWithWatchdog } from './worker.js';

/**
 * A slice of `npm run fuzz` inside `npm test`: a fixed seed so a failure here
 * reproduces (override with BPF_LOAD_FUZZ_SEED to explore), ~30 mutants per
 * fixture per run.
 */
const SEED = Number(process.env['BPF_LOAD_FUZZ_SEED'] ?? 20261126) >>> 0;
const PER_FIXTURE = 30;

function describeFailures(report: FuzzReport): string {
  return report.failures
    .slice(0, 5)
    .map((f) => `${f.fixture} seed ${f.seed}: ${f.problem}\n    ${f.steps.join('\n    ')}\n    replay: node dist/test/fuzz/run.js --replay ${f.fixture}:${f.seed}`)
    .join('\n');
}

describe(`fuzz: mutants of every fixture are parsed or refused cleanly (seed ${SEED})`, function () {
  this.timeout(120_000);

  it(`parse only: ${PER_FIXTURE} mutants per fixture, each parsed or an ElfError naming the file`, async () => {
    const report = await fuzzWithWatchdog(SEED, PER_FIXTURE, false);
    expect(report.failures, describeFailures(report)).to.deep.equal([]);
    // a fuzz that only ever hits the magic check proves nothing about the rest of the reader
    expect(report.outcomes.parsed, 'some mutants get through the reader').to.be.greaterThan(report.mutants / 10);
    expect(report.outcomes['refused-elf'], 'some mutants are refused').to.be.greaterThan(report.mutants / 10);
  });

  describe('the harness catches what it is meant to catch', () => {
    before(function () {
      requireKernel(this);
    });

    it('an error that is not ours (a TypeError from inside) is a failure, not an outcome', () => {
      const restore = overrideBpfSyscall(() => {
        throw new TypeError('simulated bug');
      });
      try {
        const result = runMutant(fixtureBytes('map_def16_kern.o'), 'map_def16_kern.o~0', true);
        expect(result).to.have.property('problem').that.matches(/not a project error: TypeError: simulated bug/);
      } finally {
        restore();
      }
    });

    it('an fd left open is a failure', () => {
      const leaked: number[] = [];
      const restore = overrideBpfSyscall((cmd, attr, size, real) => {
        if (leaked.length === 0) leaked.push(openSync('/dev/null', 'r'));
        return real(cmd, attr, size);
      });
      try {
        const result = runMutant(fixtureBytes('map_def16_kern.o'), 'map_def16_kern.o~0', true);
        expect(result).to.have.property('problem').that.matches(/\/proc\/self\/fd count (\d+) -> (\d+) after loaded/);
      } finally {
        restore();
        for (const fd of leaked) closeSync(fd);
      }
    });

    it('the intact fixtures load (outcome loaded), so the mutants are measured against a working baseline', () => {
      expect(runMutant(fixtureBytes('map_def28_kern.o'), 'map_def28_kern.o', true)).to.deep.equal({ outcome: 'loaded' });
      expect(runMutant(fixtureBytes('x86_64_object.o'), 'x86_64_object.o', true)).to.deep.include({ outcome: 'refused-elf' });
    });
  });

  describe('against the kernel', () => {
    before(function () {
      requireKernel(this);
    });

    it(`load: ${PER_FIXTURE} mutants per fixture load or are refused, with no fd left open`, async () => {
      const report = await fuzzWithWatchdog(SEED ^ 0x5a5a5a5a, PER_FIXTURE, true);
      expect(report.failures, describeFailures(report)).to.deep.equal([]);
      expect(report.outcomes.loaded, 'some mutants load').to.be.greaterThan(0);
      expect(report.outcomes['refused-kernel'], 'some mutants are refused by the kernel').to.be.greaterThan(0);
    });
  });
});
