import { expect } from 'chai';
import { existsSync, readFileSync, rmSync } from 'node:fs';
import { readElf } from '../../elf/elfFile.js';
import {
  ALL_BTF_FEATURES, btfTypes, formatBtf, marshalBtf, objectBtf, objectBtfFixedUp, parseBtf, sanitizeBtfTypes,
  type BtfKernelFeatures, type BtfType,
} from '../../elf/btf/index.js';
import { bpftoolJson, bpftoolRun } from '../support/bpftool.js';
import { fixtureBytes, fixturePath } from '../support/fixtures.js';
import { requireFeature, requireKernel, requireTool } from '../support/kernel.js';
import { KIND, StringTable, btfBytes, btfFixtures, info } from './builder.js';

const VMLINUX = '/sys/kernel/btf/vmlinux';
const FIXTURE = 'modern/btf_maps.bpf.o';
const PINNED_BY_NAME = '/sys/fs/bpf/btf_maps_pinned';

function reparse(types: BtfType[]): ReturnType<typeof parseBtf> {
  const btf = parseBtf(marshalBtf(types));
  btf.validate();
  return btf;
}

describe('btf: marshalling, DATASEC fix-up and sanitizing for the kernel (pure)', () => {
  describe('round trips', () => {
    for (const name of btfFixtures()) {
      it(`${name}: marshal(parse(.BTF)) is .BTF byte for byte`, () => {
        const btf = objectBtf(readElf(fixtureBytes(name), name), name)!;
        expect(Buffer.from(marshalBtf(btfTypes(btf), { strings: btf.stringTable })).equals(Buffer.from(btf.bytes))).to.equal(true);
      });
    }

    it('the kernel BTF: parse → marshal (a fresh string table) → parse gives the same types', function () {
      requireFeature(this, 'the kernel BTF', existsSync(VMLINUX) ? undefined : `${VMLINUX} is missing`);
      this.timeout(120_000);
      const btf = parseBtf(readFileSync(VMLINUX));
      const again = reparse(btfTypes(btf));
      expect(again.typeCount).to.equal(btf.typeCount);
      expect(formatBtf(again)).to.equal(formatBtf(btf));
      expect(Buffer.from(marshalBtf(btfTypes(btf), { strings: btf.stringTable })).equals(Buffer.from(btf.bytes))).to.equal(true);
    });

    it('big-endian output reads back the same', () => {
      const btf = objectBtf(readElf(fixtureBytes(FIXTURE), FIXTURE), FIXTURE)!;
      const big = parseBtf(marshalBtf(btfTypes(btf), { littleEndian: false }));
      expect(big.littleEndian).to.equal(false);
      expect(formatBtf(big)).to.equal(formatBtf(btf));
    });

    it('split BTF: ids and string offsets continue the base', () => {
      const s = new StringTable();
      const base = parseBtf(btfBytes([s.add('int'), info(KIND.INT), 4, 0x01000020], s.bytes()));
      const split: BtfType[] = [{ id: 2, kind: 'TYPEDEF', name: 'myint', type: 1, kindFlag: false }];
      const parsed = parseBtf(marshalBtf(split, { base }), { base });
      expect(parsed.type(2)).to.deep.include({ kind: 'TYPEDEF', name: 'myint', type: 1 });
    });
  });

  describe("DATASEC fix-up: the object's BTF as libbpf gave it to the kernel (bpftool btf dump id)", () => {
    let kernelDump = '';
    before(function () {
      requireKernel(this);
      requireTool(this, 'bpftool');
      const pinnedBefore = existsSync(PINNED_BY_NAME);
      const pins = `/sys/fs/bpf/bpf_load_btf_marshal_${process.pid}_${Date.now()}`;
      try {
        bpftoolRun('prog', 'loadall', fixturePath(FIXTURE), pins);
        const { btf_id: id } = bpftoolJson<{ btf_id: number }>('prog', 'show', 'pinned', `${pins}/count_flows`);
        kernelDump = bpftoolRun('btf', 'dump', 'id', String(id));
      } finally {
        rmSync(pins, { recursive: true, force: true });
        if (!pinnedBefore) rmSync(PINNED_BY_NAME, { force: true });
      }
    });

    it('sizes from the ELF sections, global offsets from the symbols, variables in offset order: every type equal', () => {
      const elf = readElf(fixtureBytes(FIXTURE), FIXTURE);
      const fixed = objectBtfFixedUp(elf, objectBtf(elf, FIXTURE)!);
      expect(formatBtf(reparse(fixed))).to.equal(kernelDump);
    });
  });

  describe('sanitizing for a kernel that lacks kinds', () => {
    /** one of each kind that may need replacing */
    function sample(): BtfType[] {
      return [
        { id: 1, kind: 'INT', name: 'int', size: 4, signed: true, char: false, bool: false, bitOffset: 0, bits: 32 },
        { id: 2, kind: 'FUNC_PROTO', name: '', returnType: 1, params: [{ name: 'a', type: 1 }] },
        { id: 3, kind: 'FUNC', name: 'f', type: 2, linkage: 1 },
        { id: 4, kind: 'VAR', name: 'v', type: 1, linkage: 1 },
        { id: 5, kind: 'DATASEC', name: '.data', size: 4, vars: [{ type: 4, offset: 0, size: 4 }] },
        { id: 6, kind: 'FLOAT', name: 'double', size: 8 },
        { id: 7, kind: 'DECL_TAG', name: 'tag', type: 3, componentIdx: -1, kindFlag: false },
        { id: 8, kind: 'TYPE_TAG', name: 'user', type: 1, kindFlag: false },
        { id: 9, kind: 'ENUM64', name: 'e64', size: 8, signed: false, values: [{ name: 'A', value: 1n << 40n }] },
        { id: 10, kind: 'ENUM', name: 'e', size: 4, signed: true, values: [{ name: 'M', value: -1 }] },
      ];
    }
    const none: BtfKernelFeatures = { datasec: false, func: false, funcGlobal: false, float: false, declTag: false, typeTag: false, enum64: false };

    it('a kernel with every kind gets the types unchanged', () => {
      expect(sanitizeBtfTypes(sample(), ALL_BTF_FEATURES)).to.deep.equal(sample());
    });

    it('a kernel with none: each replaced as libbpf replaces it, ids kept, the result valid BTF', () => {
      const sanitized = sanitizeBtfTypes(sample(), none);
      const btf = reparse(sanitized);
      expect(formatBtf(btf)).to.equal([
        "[1] INT 'int' size=4 bits_offset=0 nr_bits=32 encoding=SIGNED",
        "[2] ENUM '(anon)' encoding=UNSIGNED size=4 vlen=1", "\t'a' val=1",
        "[3] TYPEDEF 'f' type_id=2",
        "[4] INT 'v' size=1 bits_offset=0 nr_bits=8 encoding=(none)",
        "[5] STRUCT '_data' size=4 vlen=1", "\t'v' type_id=4 bits_offset=0",
        "[6] STRUCT '(anon)' size=8 vlen=0",
        "[7] INT '(anon)' size=1 bits_offset=0 nr_bits=8 encoding=(none)",
        "[8] CONST '(anon)' type_id=1",
        "[9] UNION 'e64' size=8 vlen=1", "\t'A' type_id=11 bits_offset=0",
        "[10] ENUM 'e' encoding=UNSIGNED size=4 vlen=1", "\t'M' val=4294967295",
        "[11] INT 'enum64_placeholder' size=1 bits_offset=0 nr_bits=8 encoding=(none)",
        '',
      ].join('\n'));
    });

    it('FUNC without global linkage only: global functions become static, nothing else changes', () => {
      const sanitized = sanitizeBtfTypes(sample(), { ...ALL_BTF_FEATURES, funcGlobal: false });
      expect(sanitized[2]).to.deep.include({ kind: 'FUNC', linkage: 0 });
      expect(sanitized.filter((_, i) => i !== 2)).to.deep.equal(sample().filter((_, i) => i !== 2));
    });
  });
});
