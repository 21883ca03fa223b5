import { expect } from 'chai';
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { objectBtf, objectBtfExt } from '../../elf/btf/index.js';
import { readElf } from '../../elf/elfFile.js';
import { coreFunctions, kernelBtf, relocateCoreAgainstKernel, type KernelCorePatch } from '../../loader/btf/index.js';
import { coreRelocationsOf, isBpfLoadError, loadBpfFile, readObjectSpec, type CoreRelocationReport } from '../../loader/index.js';
import { comparedCount, reportDifferencesFromLibbpf } from '../support/coreReports.js';
import { fixtureBytes, fixturePath, repoRoot } from '../support/fixtures.js';
import { requireFeature, requireKernel } from '../support/kernel.js';
import { coreDifferencesFromLibbpf, libbpfCoreLog, libbpfOracleMissing } from '../support/libbpfOracle.js';

/**
 * CO-RE against this kernel's BTF, object by object: every relocation bpf-load calculates and
 * patches equals what libbpf's debug log (bpftool -d prog loadall) says it did.
 */

function corePatches(name: string): KernelCorePatch[] {
  const path = fixturePath(`modern/${name}`);
  const elf = readElf(fixtureBytes(`modern/${name}`), path);
  const btf = objectBtf(elf, path)!;
  const ext = objectBtfExt(elf, btf, path);
  if (!ext) return [];
  return relocateCoreAgainstKernel(coreFunctions(elf, ext), ext, btf, kernelBtf());
}

/** The `.bpf.o` objects of fixtures/DIR that carry CO-RE records. */
function objectsWithCore(dir: string): string[] {
  return readdirSync(join(repoRoot, 'fixtures', dir)).filter((f) => f.endsWith('.bpf.o')).filter((name) => {
    const elf = readElf(fixtureBytes(`${dir}/${name}`), name);
    const btf = objectBtf(elf, name);
    const ext = btf && objectBtfExt(elf, btf, name);
    return ext !== undefined && ext.coreRelos.size > 0;
  }).sort();
}

const withCore = objectsWithCore('modern');
/** the libbpf-bootstrap samples, built the way their users build them: their reports too */
const samplesWithCore = objectsWithCore('samples-modern');

/**
 * Where elf/btf's calculator still differs from libbpf 1.1, exactly (an empty list once fixed):
 * libbpf's bpf_core_calc_type_relo gives 0, not a poison, for a type-based relocation whose
 * type the kernel lacks.
 */
const KNOWN_DIFFERENCES: Record<string, string[]> = {};

/**
 * Objects libbpf 1.1 cannot open, so that its log has no CO-RE line to compare: each must still be
 * refused by it (a newer libbpf that opens one turns its test red, to be compared then).
 */
const LIBBPF_CANNOT_OPEN: Record<string, string> = {
  'uprobe_multi.bpf.o': "libbpf 1.1: failed to guess program type from ELF section 'uprobe.multi/…'",
};

/** How much the reports were compared with libbpf's log in this run. */
const compared = { objects: 0, relocations: 0 };

describe('CO-RE against the kernel BTF, with libbpf as the oracle', function () {
  this.timeout(120_000);
  beforeEach(function () {
    requireKernel(this);
    requireFeature(this, 'the libbpf oracle', libbpfOracleMissing());
  });

  it('finds the corpus objects that carry CO-RE records', () => {
    expect(withCore).to.include.members(['core_kinds.bpf.o', 'core_task.bpf.o', 'ringbuf_bootstrap.bpf.o']);
  });

  for (const [name, refusal] of Object.entries(LIBBPF_CANNOT_OPEN)) {
    it(`${name}: libbpf 1.1 cannot open it (no patch of its to compare), and bpf-load relocates it`, () => {
      const log = libbpfCoreLog(fixturePath(`modern/${name}`));
      expect(log.relocations, 'libbpf relocated nothing').to.deep.equal([]);
      expect(log.status, refusal).to.not.equal(0);
      expect(corePatches(name).length).to.be.greaterThan(0);
    });
  }

  for (const name of withCore.filter((n) => !Object.hasOwn(LIBBPF_CANNOT_OPEN, n))) {
    it(`${name}: every patch equals libbpf's`, () => {
      const patches = corePatches(name);
      const log = libbpfCoreLog(fixturePath(`modern/${name}`));
      expect(log.relocations.length, 'libbpf relocated something').to.be.greaterThan(0);
      const differences = coreDifferencesFromLibbpf(log, patches.map((p) => ({
        program: p.program, insn: p.insn, poisoned: p.poisoned, ...(p.to !== undefined && { to: p.to }),
      })));
      expect(differences).to.deep.equal(KNOWN_DIFFERENCES[name] ?? []);
      // what the API reports without a load says the same, in libbpf's words
      const reports = coreRelocationsOf(readObjectSpec(fixturePath(`modern/${name}`)));
      expect(reportDifferencesFromLibbpf(log, reports)).to.deep.equal(KNOWN_DIFFERENCES[name] ?? []);
      expect(Object.values(reports).flat().length, 'a report per record libbpf acted on').to.be.at.least(comparedCount(log));
      compared.objects++;
      compared.relocations += comparedCount(log);
    });
  }

  for (const name of samplesWithCore) {
    it(`samples-modern/${name}: every report equals libbpf's patch`, () => {
      const path = fixturePath(`samples-modern/${name}`);
      const log = libbpfCoreLog(path);
      expect(log.relocations.length, 'libbpf relocated something').to.be.greaterThan(0);
      expect(reportDifferencesFromLibbpf(log, coreRelocationsOf(readObjectSpec(path)))).to.deep.equal([]);
      compared.objects++;
      compared.relocations += comparedCount(log);
    });
  }

  it('compared every object and relocation above', () => {
    expect(samplesWithCore).to.include.members(['bootstrap.bpf.o', 'opensnoop.bpf.o']);
    expect(compared.objects).to.equal(withCore.length - Object.keys(LIBBPF_CANNOT_OPEN).length + samplesWithCore.length);
    expect(compared.relocations).to.be.greaterThan(50);
  });
});

/** A load's program.coreRelocations, program by program (those the kernel refuses are left out, each loaded alone otherwise). */
async function loadedReports(path: string): Promise<{ reports: Record<string, readonly CoreRelocationReport[]>; refused: string[] }> {
  const reports: Record<string, readonly CoreRelocationReport[]> = {};
  const refused: string[] = [];
  try {
    using object = await loadBpfFile(path);
    for (const program of object.programs) reports[program.name] = program.coreRelocations;
    return { reports, refused };
  } catch (error) {
    if (!isBpfLoadError(error) || error.code !== 'BPF_LOAD_PROG') throw error;
  }
  // a program this kernel refuses (fentry is EPERM here) fails the whole load: the others one by one
  for (const name of Object.keys(readObjectSpec(path).programs)) {
    try {
      using object = await loadBpfFile(path, { programs: [name] });
      for (const program of object.programs) reports[program.name] = program.coreRelocations;
    } catch (error) {
      if (!isBpfLoadError(error) || error.code !== 'BPF_LOAD_PROG') throw error;
      refused.push(name);
    }
  }
  return { reports, refused };
}

describe('CO-RE reports of a load: program.coreRelocations', function () {
  this.timeout(120_000);
  beforeEach(function () {
    requireKernel(this);
  });

  for (const name of withCore) {
    it(`${name}: each loaded program reports what coreRelocationsOf() calculates`, async () => {
      const path = fixturePath(`modern/${name}`);
      const calculated = coreRelocationsOf(readObjectSpec(path));
      const { reports, refused } = await loadedReports(path);
      expect(refused.length, `every program refused: ${refused.join(', ')}`).to.be.lessThan(Object.keys(calculated).length);
      for (const [program, loaded] of Object.entries(reports)) {
        expect(loaded, program).to.deep.equal(calculated[program]);
        expect(Object.isFrozen(loaded), 'the list is read-only').to.equal(true);
      }
      expect(Object.values(reports).flat().length).to.be.greaterThan(0);
    });
  }

  it('a program without CO-RE records reports an empty list, and the same one each time', async () => {
    using object = await loadBpfFile(fixturePath('sockex1_kern.o'));
    const program = object.programs[0]!;
    expect(program.coreRelocations).to.deep.equal([]);
    expect(program.coreRelocations).to.equal(object.programs[0]!.coreRelocations);
  });
});
