import { expect } from 'chai';
import { existsSync, rmSync } from 'node:fs';
import { readElf, STT_FUNC, type ElfFile } from '../../elf/elfFile.js';
import {
  BtfError, objectBtf, objectBtfExt, parseBtfExt, programExtInfo, rebaseRecords, type Btf, type BtfExt, type ProgramPart,
} from '../../elf/btf/index.js';
import { bpftoolJson, bpftoolRun } from '../support/bpftool.js';
import { fixtureBytes, fixturePath } from '../support/fixtures.js';
import { requireKernel, requireTool } from '../support/kernel.js';

const FIXTURE = 'modern/btf_maps.bpf.o';
const PINNED_BY_NAME = '/sys/fs/bpf/btf_maps_pinned';

function load(name: string): { elf: ElfFile; btf: Btf; ext: BtfExt } {
  const elf = readElf(fixtureBytes(name), name);
  const btf = objectBtf(elf, name)!;
  return { elf, btf, ext: objectBtfExt(elf, btf, name)! };
}

/** Where a function is in its section: [first instruction, count], from its symbol. */
function functionExtent(elf: ElfFile, name: string): { section: string; sectionOffset: number; count: number } {
  const symbol = elf.symbols.find((s) => s.name === name && s.type === STT_FUNC)!;
  return { section: elf.sections[symbol.shndx]!.name, sectionOffset: symbol.value / 8, count: symbol.size / 8 };
}

/** A program as libbpf assembles it: its own code, then each subprogram in the order given. */
function layout(elf: ElfFile, program: string, subprograms: string[]): ProgramPart[] {
  const parts: ProgramPart[] = [];
  let at = 0;
  for (const name of [program, ...subprograms]) {
    const extent = functionExtent(elf, name);
    parts.push({ ...extent, landsAt: at });
    at += extent.count;
  }
  return parts;
}

describe('btf: .BTF.ext (func_info, line_info, CO-RE records) (pure)', () => {
  it('reads the records of each section of a clang -g object, as instruction indices', () => {
    const { btf, ext } = load(FIXTURE);
    expect([...ext.funcInfo.keys()].sort()).to.deep.equal(['.text', 'xdp']);
    expect([ext.funcInfoRecSize, ext.lineInfoRecSize, ext.coreReloRecSize]).to.deep.equal([8, 16, 16]);
    const names = (section: string): [number, string][] =>
      ext.funcInfo.get(section)!.map((f) => [f.insnOff, btf.typeOfKind(f.typeId, 'FUNC').name]);
    // the same offsets libbpf's log gives ("found program 'account' at insn offset 11" ...)
    expect(names('.text')).to.deep.equal([[0, 'classify'], [11, 'account'], [31, 'visit']]);
    expect(names('xdp')).to.deep.equal([[0, 'tail_target'], [21, 'count_flows']]);
    const first = ext.lineInfo.get('xdp')![0]!;
    expect(first).to.deep.include({ insnOff: 0, fileName: './modern/btf_maps.bpf.c', lineText: '\tstruct flow_key key = { .proto = 17 };', line: 181, column: 18 });
    expect(ext.coreRelos.size).to.equal(0);
  });

  it('rebaseRecords keeps the records of one piece and moves them to where it lands', () => {
    const records = [{ insnOff: 0, x: 'a' }, { insnOff: 11, x: 'b' }, { insnOff: 30, x: 'c' }, { insnOff: 31, x: 'd' }];
    expect(rebaseRecords(records, { section: '.text', sectionOffset: 11, count: 20, landsAt: 77 })).to.deep.equal([
      { insnOff: 77, x: 'b' }, { insnOff: 96, x: 'c' },
    ]);
    expect(records[1]).to.deep.equal({ insnOff: 11, x: 'b' });
    expect(rebaseRecords(undefined, { section: 'x', sectionOffset: 0, count: 1, landsAt: 0 })).to.deep.equal([]);
  });

  it('programExtInfo: a program with its subprograms appended, records in instruction order', () => {
    const { elf, btf, ext } = load(FIXTURE);
    const info = programExtInfo(ext, layout(elf, 'count_flows', ['classify', 'account', 'visit']));
    expect(info.funcInfo.map((f) => [f.insnOff, btf.type(f.typeId).name])).to.deep.equal([
      [0, 'count_flows'], [71, 'classify'], [82, 'account'], [102, 'visit'],
    ]);
    const offsets = info.lineInfo.map((l) => l.insnOff);
    expect(offsets).to.deep.equal([...offsets].sort((a, b) => a - b));
    expect(offsets[0]).to.equal(0);
    expect(offsets.at(-1)).to.be.lessThan(114);
  });

  describe('as the kernel has them after libbpf loaded the object (bpftool prog dump xlated linum)', () => {
    const pins = `/sys/fs/bpf/bpf_load_btf_ext_${process.pid}_${Date.now()}`;
    let pinnedBefore = false;
    before(function () {
      requireKernel(this);
      requireTool(this, 'bpftool');
      pinnedBefore = existsSync(PINNED_BY_NAME);
      bpftoolRun('prog', 'loadall', fixturePath(FIXTURE), pins);
    });
    after(() => {
      rmSync(pins, { recursive: true, force: true });
      // libbpf pins the LIBBPF_PIN_BY_NAME map under /sys/fs/bpf itself
      if (!pinnedBefore) rmSync(PINNED_BY_NAME, { force: true });
    });

    interface XlatedInsn {
      proto?: string;
      file?: string;
      line_num?: number;
      line_col?: number;
      disasm: string;
      src?: string;
    }

    // libbpf appended the subprograms in the order its log gives ("added 11 insns from sub-prog 'classify'")
    const programs: [string, string[]][] = [['tail_target', ['classify', 'account']], ['count_flows', ['classify', 'account', 'visit']]];
    for (const [program, subprograms] of programs) {
      it(`${program}: the functions and the source lines, in order, are the kernel's`, () => {
        const { elf, btf, ext } = load(FIXTURE);
        const info = programExtInfo(ext, layout(elf, program, subprograms));
        const xlated = bpftoolJson<XlatedInsn[]>('prog', 'dump', 'xlated', 'pinned', `${pins}/${program}`, 'linum');
        const kernelFuncs = xlated.filter((i) => i.proto).map((i) => /(\w+)\(/.exec(i.proto!)![1]);
        expect(info.funcInfo.map((f) => btf.type(f.typeId).name)).to.deep.equal(kernelFuncs);
        const kernelLines = xlated.filter((i) => i.file).map((i) => [i.file, i.line_num ?? 0, i.line_col ?? 0]);
        expect(info.lineInfo.map((l) => [l.fileName, l.line, l.column])).to.deep.equal(kernelLines);
        // instruction indices are the same on both sides up to the first helper call or bpf_loop, which the verifier may inline
        let slot = 0;
        const slots = xlated.map((i) => {
          const at = slot;
          slot += i.disasm.startsWith('(18)') ? 2 : 1;
          return at;
        });
        const firstHelper = xlated.findIndex((i) =>
          (i.disasm.startsWith('(85) call') && !i.disasm.includes('pc+')) || i.src?.includes('bpf_loop'));
        const unpatched = slots[firstHelper]!;
        expect(unpatched).to.be.greaterThan(10);
        const kernelPositions = xlated.flatMap((i, index) => (i.file && slots[index]! <= unpatched ? [slots[index]] : []));
        expect(info.lineInfo.filter((l) => l.insnOff <= unpatched).map((l) => l.insnOff)).to.deep.equal(kernelPositions);
      });
    }
  });

  describe('malformed .BTF.ext is a BtfError saying what is wrong', () => {
    function extWith(edit: (view: DataView, bytes: Uint8Array) => void): { bytes: Uint8Array; btf: Btf } {
      const elf = readElf(fixtureBytes(FIXTURE), FIXTURE);
      const btf = objectBtf(elf, FIXTURE)!;
      const bytes = Uint8Array.from(elf.sections.find((s) => s.name === '.BTF.ext')!.data);
      edit(new DataView(bytes.buffer), bytes);
      return { bytes, btf };
    }
    const cases: [string, (view: DataView, bytes: Uint8Array) => void, RegExp][] = [
      ['a bad magic', (v) => v.setUint16(0, 0x1234, true), /^x.o: sec '.BTF.ext': BTF: magic is 0x1234/],
      ['a header length past the end', (v) => v.setUint32(4, 100000, true), /header length 100000/],
      ['func_info past the end', (v) => v.setUint32(12, 100000, true), /func_info \[0, \+100000\) is not inside/],
      ['a record size below the kernel one', (v, b) => v.setUint32(v.getUint32(4, true) + v.getUint32(8, true), 4, true) ?? b, /func_info record size 4/],
      ['a section name past the strings', (v) => v.setUint32(v.getUint32(4, true) + v.getUint32(8, true) + 4, 0xffffff, true), /func_info section name: string offset 16777215/],
      ['a record count past the end', (v) => v.setUint32(v.getUint32(4, true) + v.getUint32(8, true) + 8, 1000, true), /1000 records of 8 bytes run past the end/],
      ['an offset inside an instruction', (v) => v.setUint32(v.getUint32(4, true) + v.getUint32(8, true) + 12 + 8, 12, true), /func_info record 1 of section 'xdp': offset 12 is not on an instruction/],
      ['a type id past the last', (v) => v.setUint32(v.getUint32(4, true) + v.getUint32(8, true) + 12 + 4, 99999, true), /func_info record 0 of section 'xdp' names type 99999/],
    ];
    for (const [what, edit, message] of cases) {
      it(what, () => {
        const { bytes, btf } = extWith(edit);
        expect(() => parseBtfExt(bytes, btf, { file: 'x.o' })).to.throw(BtfError, message);
      });
    }
  });
});
