import { expect } from 'chai';
import { readElf, type ElfFile } from '../../elf/elfFile.js';
import {
  BtfError, alignOf, btfMapDefinitions, btfTypes, calculateCoreRelocation, dataSections, fixupDatasecs, formatBtf, marshalBtf,
  parseBtf, parseBtfExt, patchCoreInstruction, sanitizeBtfTypes, sizeOf, symbolOffsets, type Btf,
} from '../../elf/btf/index.js';
import { fixtureBytes } from '../support/fixtures.js';
import { btfFixtures } from './builder.js';

/** A small deterministic generator: the same mutants on every run, so a failure reproduces. */
function generator(seed: number): (n: number) => number {
  let state = seed >>> 0;
  return (n) => {
    state = (Math.imul(state ^ (state >>> 15), 0x2c1b3c6d) + 0x6d2b79f5) >>> 0;
    return state % n;
  };
}

function mutate(original: Uint8Array, random: (n: number) => number): Uint8Array {
  const bytes = Uint8Array.from(original);
  const view = new DataView(bytes.buffer);
  for (let edits = 1 + random(4); edits > 0; edits--) {
    const at = random(bytes.length);
    switch (random(4)) {
      case 0:
        bytes[at] ^= 1 << random(8);
        break;
      case 1:
        if (at + 4 <= bytes.length) view.setUint32(at & ~3, [0, 1, 0xffffffff, 0x80000000, bytes.length, 0xffff][random(6)]!, true);
        break;
      case 2:
        bytes[at] = [0, 0xff, 0x7f, 0x80][random(4)]!;
        break;
      default:
        bytes[at] = random(256);
    }
  }
  return bytes;
}

/** Everything the BTF modules do with an object's BTF; only BtfErrors may come out. */
function exercise(elf: ElfFile, btf: Btf, ext: Uint8Array | undefined): void {
  formatBtf(btf);
  for (const id of btf.ids()) {
    try {
      sizeOf(btf, id);
      alignOf(btf, id);
    } catch (error) {
      if (!(error instanceof BtfError)) throw error;
    }
  }
  const attempt = (step: () => unknown): void => {
    try {
      step();
    } catch (error) {
      if (!(error instanceof BtfError)) throw error;
    }
  };
  attempt(() => btfMapDefinitions(btf, { symbolOffset: symbolOffsets(elf) }));
  attempt(() => dataSections(btf, symbolOffsets(elf)));
  attempt(() => {
    const fixed = fixupDatasecs(btf, { sectionSize: (name) => elf.sections.find((s) => s.name === name)?.size, symbolOffset: symbolOffsets(elf) });
    parseBtf(marshalBtf(sanitizeBtfTypes(fixed, { datasec: false, func: false, funcGlobal: false, float: false, declTag: false, typeTag: false, enum64: false }))).validate();
  });
  attempt(() => parseBtf(marshalBtf(btfTypes(btf))).validate());
  if (!ext) return;
  attempt(() => {
    const parsed = parseBtfExt(ext, btf);
    for (const [section, relos] of parsed.coreRelos) {
      const insns = Uint8Array.from(elf.sections.find((s) => s.name === section)?.data ?? new Uint8Array(0));
      for (const relo of relos) {
        attempt(() => patchCoreInstruction(insns, relo.insnOff, calculateCoreRelocation(btf, btf, relo), section));
      }
    }
  });
}

/** A fixed seed so a failure here reproduces; BPF_LOAD_FUZZ_SEED explores others, BPF_LOAD_BTF_FUZZ_COUNT runs more. */
const SEED = Number(process.env['BPF_LOAD_FUZZ_SEED'] ?? 0x5eed) >>> 0;

describe(`btf: fuzz (pure, seed ${SEED}): mutants of every -g fixture's .BTF and .BTF.ext through every BTF module`, () => {
  const PER_FIXTURE = Number(process.env['BPF_LOAD_BTF_FUZZ_COUNT'] ?? 150);
  for (const name of btfFixtures()) {
    it(`${name}: ${PER_FIXTURE} mutants of each section, only BtfErrors`, function () {
      this.timeout(120_000);
      const elf = readElf(fixtureBytes(name), name);
      const btfBytes = elf.sections.find((s) => s.name === '.BTF')!.data;
      const extBytes = elf.sections.find((s) => s.name === '.BTF.ext')?.data;
      const random = generator(SEED ^ name.length);
      const outcomes = { refused: 0, read: 0 };
      for (let i = 0; i < PER_FIXTURE * 2; i++) {
        const mutateExt = i % 2 === 1 && extBytes !== undefined;
        const btf = mutateExt ? btfBytes : mutate(btfBytes, random);
        const ext = mutateExt ? mutate(extBytes, random) : extBytes;
        try {
          exercise(elf, parseBtf(btf, { file: `${name}~${i}` }), ext);
          outcomes.read++;
        } catch (error) {
          if (!(error instanceof BtfError)) throw new Error(`${name} mutant ${i} (${mutateExt ? '.BTF.ext' : '.BTF'}): ${(error as Error).stack}`);
          outcomes.refused++;
        }
      }
      expect(outcomes.read, 'mutants that got through the header').to.be.greaterThan(PER_FIXTURE / 5);
    });
  }
});
