import { expect } from 'chai';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { readElf } from '../../elf/elfFile.js';
import {
  BtfError, CORE_POISON_IMM, applyCoreRelocations, calculateCoreRelocation, coreCandidates, essentialName, objectBtf, objectBtfExt, parseBtf,
  patchCoreInstruction, formatCoreSpec, type Btf, type CoreRelo,
} from '../../elf/btf/index.js';
import { insnAt } from '../../elf/instructions.js';
import { fixtureBytes, fixturePath } from '../support/fixtures.js';
import { requireFeature, requireKernel, requireTool } from '../support/kernel.js';
import { KIND, StringTable, btfBytes, info } from './builder.js';

const VMLINUX = '/sys/kernel/btf/vmlinux';
const FIXTURE = 'modern/core.bpf.o';
/** the fixture's programs and their sections (one program each, so instruction indices are the section's) */
const PROGRAMS = { read_task: 'tracepoint/syscalls/sys_enter_getppid', read_more: 'tracepoint/syscalls/sys_enter_getpgid' } as const;
type Program = keyof typeof PROGRAMS;

function vmlinux(context: Mocha.Context): Btf {
  let bytes: Buffer | undefined;
  try {
    bytes = readFileSync(VMLINUX);
  } catch {
    bytes = undefined;
  }
  requireFeature(context, 'the kernel BTF', bytes ? undefined : `${VMLINUX} cannot be read`);
  return parseBtf(bytes!, { file: VMLINUX });
}

function fixtureRelos(program: Program): { local: Btf; relos: CoreRelo[]; insns: Uint8Array } {
  const elf = readElf(fixtureBytes(FIXTURE), FIXTURE);
  const local = objectBtf(elf, FIXTURE)!;
  const relos = objectBtfExt(elf, local, FIXTURE)!.coreRelos.get(PROGRAMS[program])!;
  return { local, relos, insns: Uint8Array.from(elf.sections.find((s) => s.name === PROGRAMS[program])!.data) };
}

/** Every relocation of a program applied to a copy of its instructions, described as libbpf logs it. */
function applyAll(target: Btf, program: Program): { lines: string[]; insns: Uint8Array } {
  const { local, relos, insns } = fixtureRelos(program);
  const lines = applyCoreRelocations(insns, relos, local, target, program)
    .flatMap(({ patch }, index) => patch.description.map((line) => `relo #${index}: ${line}`));
  return { lines, insns };
}

describe('btf: CO-RE relocations, calculated and patched (pure)', () => {
  it('essential names drop the ___flavor', () => {
    expect(['task_struct___old', 'task_struct', 'a___b___c', '___x', 'x__y'].map(essentialName)).to.deep.equal([
      'task_struct', 'task_struct', 'a___b', '___x', 'x__y',
    ]);
  });

  describe("against this kernel's BTF, patch for patch as libbpf (bpftool -d prog loadall's log)", () => {
    let target: Btf;
    let log = '';
    const libbpfLines = (program: Program, kind: RegExp): string[] =>
      [...log.matchAll(new RegExp(`^libbpf: prog '${program}': (relo #\\d+: ${kind.source}.*)$`, 'gm'))].map((m) => m[1]!);
    before(function () {
      this.timeout(60_000);
      requireKernel(this);
      requireTool(this, 'bpftool');
      target = vmlinux(this);
      const pins = `/sys/fs/bpf/bpf_load_btf_core_${process.pid}_${Date.now()}`;
      const run = spawnSync('bpftool', ['-d', 'prog', 'loadall', fixturePath(FIXTURE), pins], { encoding: 'utf8', maxBuffer: 64 << 20 });
      rmSync(pins, { recursive: true, force: true });
      expect(run.status, run.stderr.slice(-3000)).to.equal(0);
      log = run.stderr;
    });

    for (const [program, count] of [['read_task', 25], ['read_more', 10]] as [Program, number][]) {
      it(`${program}: ${count} relocations, each patch (instruction, old and new value, poison) as libbpf's`, () => {
        const libbpf = libbpfLines(program, /(?:patched insn|substituting insn)/);
        expect(libbpf.length).to.equal(count);
        expect(applyAll(target, program).lines).to.deep.equal(libbpf);
      });

      it(`${program}: every spec, local and matched, as libbpf prints it (paths through anonymous members, bitfield offsets)`, () => {
        const { local, relos } = fixtureRelos(program);
        const ours = relos.flatMap((relo, index) => {
          const result = calculateCoreRelocation(local, target, relo);
          const lines = [`relo #${index}: ${formatCoreSpec(result.localSpec, relo.kind)}`];
          // a local type id needs no candidate (BPF_CORE_TYPE_ID_LOCAL)
          if (result.targetSpec && relo.kind !== 6) lines.push(`relo #${index}: matching candidate #0 ${formatCoreSpec(result.targetSpec, relo.kind)}`);
          return lines;
        });
        expect(ours).to.deep.equal(libbpfLines(program, /(?:<|matching candidate)/));
      });
    }

    it('the poisoned load became a call to 0xbad2310, the rest of the program untouched around it', () => {
      const { insns } = applyAll(target, 'read_task');
      const poisoned = libbpfLines('read_task', /substituting/)[0]!;
      const index = Number(/insn #(\d+)/.exec(poisoned)![1]);
      expect(insnAt(insns, index)).to.deep.equal({ code: 0x85, dst: 0, src: 0, off: 0, imm: CORE_POISON_IMM });
    });
  });

  describe('matching rules on hand-made BTF', () => {
    /** local: [1] int, [2] struct s___v1 { int a; int b; }; target as given */
    function local(): Btf {
      const s = new StringTable();
      return parseBtf(btfBytes([
        s.add('int'), info(KIND.INT), 4, 0x01000020,
        s.add('s___v1'), info(KIND.STRUCT, 2), 8, s.add('a'), 1, 0, s.add('b'), 1, 32,
      ], s.bytes()), { file: 'local.o', section: '.BTF' });
    }
    const relo = (accessString: string, kind: number): CoreRelo => ({ insnOff: 0, typeId: 2, accessStrOff: 0, accessString, kind });

    it('candidates by essential name, through an anonymous union, flavors on both sides', () => {
      const s = new StringTable();
      // [2] struct s { long pad; union { int a; }; int b; }  [4] struct s___other { int b; }
      const target = parseBtf(btfBytes([
        s.add('int'), info(KIND.INT), 4, 0x01000020,
        s.add('s'), info(KIND.STRUCT, 3), 16, s.add('pad'), 1, 0, 0, 3, 64, s.add('b'), 1, 96,
        0, info(KIND.UNION, 1), 4, s.add('a'), 1, 0,
        s.add('s___other'), info(KIND.STRUCT, 1), 4, s.add('b'), 1, 0,
      ], s.bytes()));
      const l = local();
      expect(coreCandidates(target, l.type(2))).to.deep.equal([2, 4]);
      const a = calculateCoreRelocation(l, target, relo('0:0', 0));
      expect([a.localValue, a.targetValue, a.poison, a.candidates]).to.deep.equal([0n, 8n, false, [2]]);
      // b is at 12 in one candidate and at 0 in the other: libbpf refuses to guess
      expect(() => calculateCoreRelocation(l, target, relo('0:1', 0))).to.throw(BtfError, /field offset ambiguity: target types \[2\] and \[4\]/);
    });

    it('a field the target lacks: exists is 0, a read of it is poisoned', () => {
      const s = new StringTable();
      const target = parseBtf(btfBytes([
        s.add('int'), info(KIND.INT), 4, 0x01000020,
        s.add('s'), info(KIND.STRUCT, 1), 4, s.add('a'), 1, 0,
      ], s.bytes()));
      expect(calculateCoreRelocation(local(), target, relo('0:1', 2))).to.deep.include({ localValue: 1n, targetValue: 0n, poison: false });
      expect(calculateCoreRelocation(local(), target, relo('0:1', 0))).to.deep.include({ poison: true });
    });

    it('a field whose size changed: an unsigned load follows it (mem_sz), a signed one is poisoned', () => {
      const s = new StringTable();
      // [1] unsigned int, [2] struct u { unsigned int x; int y; }, [3] int
      const l = parseBtf(btfBytes([
        s.add('unsigned int'), info(KIND.INT), 4, 0x00000020,
        s.add('u'), info(KIND.STRUCT, 2), 8, s.add('x'), 1, 0, s.add('y'), 3, 32,
        s.add('int'), info(KIND.INT), 4, 0x01000020,
      ], s.bytes()));
      const t = new StringTable();
      // the target widened both to 8 bytes: [1] unsigned long, [2] struct u { unsigned long x; long y; }, [3] long
      const target = parseBtf(btfBytes([
        t.add('unsigned long'), info(KIND.INT), 8, 0x00000040,
        t.add('u'), info(KIND.STRUCT, 2), 16, t.add('x'), 1, 0, t.add('y'), 3, 64,
        t.add('long'), info(KIND.INT), 8, 0x01000040,
      ], t.bytes()));
      const x = calculateCoreRelocation(l, target, relo('0:0', 0));
      const ldxW = (off: number): Uint8Array => Uint8Array.from([0x61, 0x21, off, 0, 0, 0, 0, 0]);
      const insns = ldxW(0);
      expect(patchCoreInstruction(insns, 0, x, 'p').description).to.deep.equal([
        'patched insn #0 (LDX/ST/STX) off 0 -> 0', 'patched insn #0 (LDX/ST/STX) mem_sz 4 -> 8',
      ]);
      expect(insns[0]).to.equal(0x79);
      const y = calculateCoreRelocation(l, target, relo('0:1', 0));
      expect(y.failMemSizeAdjust).to.equal(true);
      expect(patchCoreInstruction(ldxW(4), 0, y, 'p')).to.deep.equal({ description: ['substituting insn #0 w/ invalid insn'], poisoned: true });
    });

    it('a malformed access string is a BtfError naming the relocation', () => {
      expect(() => calculateCoreRelocation(local(), local(), relo('0:7', 0))).to.throw(BtfError, /^local.o: sec '.BTF': BTF type \[2\]: CO-RE relocation <byte_off> of '0:7' at insn #0: step 1 is member 7 of struct s___v1, which has 2$/);
      expect(() => calculateCoreRelocation(local(), local(), relo('x', 0), { program: 'p' })).to.throw(BtfError, /^local.o: sec '.BTF': prog 'p': BTF type \[2\]: CO-RE relocation <byte_off> of 'x' at insn #0: .*not a list of numbers/);
      expect(() => calculateCoreRelocation(local(), local(), relo('0:1', 8))).to.throw(BtfError, /a type relocation needs the access string "0"/);
    });

    it('the patcher refuses an instruction that does not hold the local value', () => {
      const l = local();
      const result = calculateCoreRelocation(l, l, relo('0:1', 0));
      // r1 = *(u32 *)(r2 + 0): clang would have written off 4 for member b
      const insns = Uint8Array.from([0x61, 0x21, 0, 0, 0, 0, 0, 0]);
      expect(() => patchCoreInstruction(insns, 0, result, 'p')).to.throw(BtfError, /program 'p': CO-RE relocation at insn #0: unexpected value in LDX\/ST\/STX instruction: got 0, expected 4 -> 4/);
      insns[2] = 4;
      expect(patchCoreInstruction(insns, 0, result, 'p').description).to.deep.equal(['patched insn #0 (LDX/ST/STX) off 4 -> 4']);
    });
  });

  it('a negative enumerator: sign-extended as libbpf reads struct btf_enum (its __s32 val), so the instruction clang wrote validates', function () {
    requireTool(this, 'clang');
    const dir = mkdtempSync(join(tmpdir(), 'bpf-load-core-enum-'));
    try {
      const build = (name: string, source: string): Buffer => {
        writeFileSync(join(dir, `${name}.c`), source);
        const run = spawnSync('clang', ['-g', '-O2', '-target', 'bpf', '-c', join(dir, `${name}.c`), '-o', join(dir, `${name}.o`)], { encoding: 'utf8' });
        expect(run.status, run.stderr).to.equal(0);
        return readFileSync(join(dir, `${name}.o`));
      };
      // clang 14 writes these enums without the kind flag (as unsigned), and `-3` into the instruction as a 64-bit -3
      const local = build('local', `enum color___l { RED = -3, BLUE = 1 };
__attribute__((section("tracepoint/x"), used)) int prog(void *ctx)
{
	return __builtin_preserve_enum_value(*(enum color___l *)RED, 1) + __builtin_preserve_enum_value(*(enum color___l *)BLUE, 1);
}
`);
      const target = build('target', 'enum color { RED = -5, BLUE = 7 };\nenum color g_color __attribute__((used));\n');
      const elf = readElf(local, 'local.o');
      const localBtf = objectBtf(elf, 'local.o')!;
      const relos = objectBtfExt(elf, localBtf, 'local.o')!.coreRelos.get('tracepoint/x')!;
      const insns = Uint8Array.from(elf.sections.find((s) => s.name === 'tracepoint/x')!.data);
      const lines = applyCoreRelocations(insns, relos, localBtf, objectBtf(readElf(target, 'target.o'), 'target.o')!, 'prog')
        .flatMap(({ patch }) => patch.description);
      // libbpf 1.1's log for the same two objects (btf_custom_path = target.o)
      expect(lines).to.deep.equal([
        'patched insn #0 (LDIMM64) imm64 18446744073709551613 -> 18446744073709551611',
        'patched insn #2 (LDIMM64) imm64 1 -> 7',
      ]);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
