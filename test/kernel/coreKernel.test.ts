import { expect } from 'chai';
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { objectBtf, objectBtfExt } from '../../elf/btf/index.js';
import { readElf } from '../../elf/elfFile.js';
import { coreFunctions, kernelBtf, relocateCoreAgainstKernel, type KernelCorePatch } from '../../loader/btf/index.js';
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

const withCore = readdirSync(join(repoRoot, 'fixtures', 'modern')).filter((f) => f.endsWith('.bpf.o')).filter((name) => {
  const elf = readElf(fixtureBytes(`modern/${name}`), name);
  const btf = objectBtf(elf, name);
  const ext = btf && objectBtfExt(elf, btf, name);
  return ext !== undefined && ext.coreRelos.size > 0;
}).sort();

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
    });
  }
});
