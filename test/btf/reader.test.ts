import { expect } from 'chai';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ElfError } from '../../elf/index.js';
import { readElf } from '../../elf/elfFile.js';
import {
  BtfError, alignOf, findMember, formatBtf, objectBtf, parseBtf, resolveType, sizeOf, skipModifiers, skipModsAndTypedefs,
  type Btf,
} from '../../elf/btf/index.js';
import { bpftoolRun } from '../support/bpftool.js';
import { fixtureBytes, fixturePath } from '../support/fixtures.js';
import { requireFeature, requireTool } from '../support/kernel.js';
import { KIND, StringTable, btfBytes, btfFixtures, info } from './builder.js';

const VMLINUX = '/sys/kernel/btf/vmlinux';

function fixtureBtf(name: string): Btf {
  return objectBtf(readElf(fixtureBytes(name), name), name)!;
}

function vmlinuxMissing(): string | undefined {
  try {
    readFileSync(VMLINUX, { flag: 'r' }).subarray(0, 1);
    return undefined;
  } catch (error) {
    return `${VMLINUX} cannot be read: ${(error as Error).message}`;
  }
}

function expectBtfError(fn: () => unknown, message: RegExp): BtfError {
  try {
    fn();
  } catch (error) {
    expect(error).to.be.instanceOf(BtfError);
    expect(error).to.be.instanceOf(ElfError);
    expect((error as BtfError).code).to.equal('BPF_LOAD_BTF');
    expect((error as Error).message).to.match(message);
    return error as BtfError;
  }
  throw new Error(`expected a BtfError matching ${message}`);
}

describe('btf: the reader (pure)', () => {
  it('finds the -g fixtures it reads below', () => {
    expect(btfFixtures()).to.include.members(['modern/btf_maps.bpf.o', 'modern/minimal.bpf.o', 'debuginfo_g_kern.o']);
  });

  describe('every -g fixture reads as bpftool reads it', () => {
    for (const name of btfFixtures()) {
      it(`${name}: formatBtf equals bpftool btf dump file (raw), line for line`, function () {
        requireTool(this, 'bpftool');
        const btf = fixtureBtf(name);
        btf.validate();
        expect(formatBtf(btf)).to.equal(bpftoolRun('btf', 'dump', 'file', fixturePath(name)));
      });
    }
  });

  describe('types, sizes, alignment and members (modern/btf_maps.bpf.o)', () => {
    let btf: Btf;
    before(() => {
      btf = fixtureBtf('modern/btf_maps.bpf.o');
    });

    it('finds types by name and kind; void is id 0', () => {
      expect(btf.type(0)).to.deep.equal({ id: 0, kind: 'VOID', name: '' });
      const key = btf.find('flow_key', 'STRUCT')!;
      expect(key.size).to.equal(16);
      expect(btf.find('flow_key', 'UNION')).to.equal(undefined);
      expect(btf.byName('no_such_type')).to.deep.equal([]);
      expect(btf.byName('__u32').map((id) => btf.type(id).kind)).to.deep.equal(['TYPEDEF']);
    });

    it('sizeof and alignof as the compiler laid the structs out', () => {
      const stats = btf.find('flow_stats', 'STRUCT')!;
      expect(sizeOf(btf, stats.id)).to.equal(80);
      expect(alignOf(btf, stats.id)).to.equal(8);
      expect(sizeOf(btf, btf.find('addr', 'UNION')!.id)).to.equal(16);
      expect(alignOf(btf, btf.find('addr', 'UNION')!.id)).to.equal(4);
      // clang 14 has no ENUM64: an 8-byte ENUM (with its values cut to 32 bits)
      expect(sizeOf(btf, btf.find('big', 'ENUM')!.id)).to.equal(8);
      expect(sizeOf(btf, btf.find('flow_key', 'STRUCT')!.id)).to.equal(16);
      // a typedef'd, const volatile u32 (target_port) and an array of 8 u64 (scratch)
      const targetPort = btf.find('target_port', 'VAR')!;
      expect(sizeOf(btf, targetPort.type)).to.equal(4);
      expect(resolveType(btf, targetPort.type)).to.include({ kind: 'INT', name: 'unsigned int' });
      expect(btf.type(skipModifiers(btf, targetPort.type))).to.include({ kind: 'TYPEDEF', name: '__u32' });
      expect(sizeOf(btf, btf.find('scratch', 'VAR')!.id)).to.equal(64);
      expectBtfError(() => sizeOf(btf, btf.find('classify', 'FUNC')!.id), /^modern\/btf_maps.bpf.o: sec '.BTF': BTF type \[\d+\]: FUNC 'classify' has no size$/);
    });

    it('members: offsets, bitfields (kind_flag) and what each member is', () => {
      const key = btf.find('flow_key', 'STRUCT')!;
      expect(key.kindFlag).to.equal(true);
      expect(key.members.map((m) => [m.name, m.bitOffset, m.bitfieldSize])).to.deep.equal([
        ['saddr', 0, 0], ['daddr', 32, 0], ['sport', 64, 0], ['dport', 80, 0], ['proto', 96, 0], ['flags', 104, 3],
        ['dir', 107, 1], ['level', 112, 4],
      ]);
      expect(findMember(btf, key.id, 'level')).to.deep.include({ bitOffset: 112, path: [7] });
      expect(resolveType(btf, findMember(btf, key.id, 'level')!.member.type)).to.include({ name: 'signed char', signed: true });
      expect(findMember(btf, key.id, 'nope')).to.equal(undefined);
      const stats = btf.find('flow_stats', 'STRUCT')!;
      expect(stats.kindFlag).to.equal(false);
      const callback = btf.type(skipModsAndTypedefs(btf, findMember(btf, stats.id, 'callback')!.member.type));
      expect(callback.kind).to.equal('PTR');
      const proto = btf.typeOfKind((callback as { type: number }).type, 'FUNC_PROTO');
      expect(proto.params.map((p) => [p.name, btf.type(p.type).kind])).to.deep.equal([['', 'PTR'], ['', 'TYPEDEF']]);
    });

    it('enums: values as clang 14 writes them (unsigned, 32-bit)', () => {
      expect(btf.find('color', 'ENUM')).to.deep.include({ signed: false, size: 4 });
      expect(btf.find('color', 'ENUM')!.values).to.deep.equal([
        { name: 'RED', value: 0xffffffff }, { name: 'GREEN', value: 1 }, { name: 'BLUE', value: 0x7fffffff },
      ]);
    });

    it('enums: signed (kind_flag) and ENUM64 values, as newer compilers and the kernel write them', () => {
      const names = new StringTable();
      const built = parseBtf(btfBytes([
        names.add('s'), info(KIND.ENUM, 2, true), 4, names.add('NEG'), -5 >>> 0, names.add('POS'), 7,
        names.add('u64'), info(KIND.ENUM64, 1), 8, names.add('HUGE'), 0x76543210, 0xfedcba98,
        names.add('s64'), info(KIND.ENUM64, 1, true), 8, names.add('MINUS'), 0xfffffffe, 0xffffffff,
      ], names.bytes()));
      expect(built.type(1)).to.deep.include({ kind: 'ENUM', signed: true, values: [{ name: 'NEG', value: -5 }, { name: 'POS', value: 7 }] });
      expect(built.type(2)).to.deep.include({ kind: 'ENUM64', signed: false, values: [{ name: 'HUGE', value: 0xfedcba9876543210n }] });
      expect(built.type(3)).to.deep.include({ kind: 'ENUM64', signed: true, values: [{ name: 'MINUS', value: -2n }] });
      expect(formatBtf(built)).to.equal([
        "[1] ENUM 's' encoding=SIGNED size=4 vlen=2", "\t'NEG' val=-5", "\t'POS' val=7",
        "[2] ENUM64 'u64' encoding=UNSIGNED size=8 vlen=1", "\t'HUGE' val=18364758544493064720ULL",
        "[3] ENUM64 's64' encoding=SIGNED size=8 vlen=1", "\t'MINUS' val=-2LL", '',
      ].join('\n'));
    });

    it('anonymous members are searched as C does (vmlinux: sk_buff.next lives in an anonymous union)', function () {
      requireFeature(this, 'the kernel BTF', vmlinuxMissing());
      const vmlinux = parseBtf(readFileSync(VMLINUX), { file: VMLINUX });
      const skb = vmlinux.find('sk_buff', 'STRUCT')!;
      const next = findMember(vmlinux, skb.id, 'next')!;
      expect(next.bitOffset).to.equal(0);
      expect(next.path.length).to.be.greaterThan(1);
      const len = findMember(vmlinux, skb.id, 'len')!;
      // `len` is a direct member: its path is one index, its offset the member's
      expect(len.path).to.have.length(1);
      expect(len.bitOffset).to.equal(skb.members[len.path[0]!]!.bitOffset);
    });
  });

  describe('the kernel BTF', () => {
    let bytes: Buffer;
    before(function () {
      requireFeature(this, 'the kernel BTF', vmlinuxMissing());
      bytes = readFileSync(VMLINUX);
    });

    it('reads /sys/kernel/btf/vmlinux as bpftool does, every type', function () {
      requireTool(this, 'bpftool');
      this.timeout(120_000);
      const btf = parseBtf(bytes, { file: VMLINUX });
      expect(btf.typeCount).to.be.greaterThan(10_000);
      expect(formatBtf(btf)).to.equal(bpftoolRun('btf', 'dump', 'file', VMLINUX));
    });

    it('struct task_struct: its size and its pid member, found by name', () => {
      const btf = parseBtf(bytes, { file: VMLINUX });
      const task = btf.find('task_struct', 'STRUCT')!;
      expect(sizeOf(btf, task.id)).to.equal(task.size);
      const pid = findMember(btf, task.id, 'pid')!;
      expect(resolveType(btf, pid.member.type)).to.include({ kind: 'INT', size: 4, signed: true });
      expect(pid.bitOffset % 32).to.equal(0);
    });
  });

  describe('split BTF (a module over vmlinux)', () => {
    /** base: [1] INT 'int'; [2] STRUCT 'pair' {int a; int b}. split: [3] PTR -> 2; [4] TYPEDEF 'pair_t' -> 2; [5] STRUCT 'holder' {pair_t p; int *q} */
    function baseAndSplit(): { base: Buffer; split: Buffer } {
      const baseStrings = new StringTable();
      const base = btfBytes([
        baseStrings.add('int'), info(KIND.INT), 4, 0x01000020,
        baseStrings.add('pair'), info(KIND.STRUCT, 2), 8, baseStrings.add('a'), 1, 0, baseStrings.add('b'), 1, 32,
      ], baseStrings.bytes());
      const baseLength = baseStrings.bytes().length;
      // split strings: offsets continue the base's; a split table starts with the empty string too (as pahole writes it)
      const splitStrings = new StringTable();
      const at = (name: string): number => baseLength + splitStrings.add(name);
      const split = btfBytes([
        0, info(KIND.PTR), 1,
        at('pair_t'), info(KIND.TYPEDEF), 2,
        at('holder'), info(KIND.STRUCT, 2), 16, at('p'), 4, 0, baseStrings.add('a'), 3, 64,
      ], splitStrings.bytes());
      return { base, split };
    }

    it('ids and string offsets continue the base, names resolve in both tables', () => {
      const { base, split } = baseAndSplit();
      const baseBtf = parseBtf(base);
      const btf = parseBtf(split, { base: baseBtf });
      expect([btf.firstId, btf.typeCount, btf.ownTypeCount]).to.deep.equal([3, 6, 3]);
      expect([...btf.ids()]).to.deep.equal([3, 4, 5]);
      expect(btf.type(2)).to.equal(baseBtf.type(2));
      expect(btf.find('holder', 'STRUCT')!.members.map((m) => m.name)).to.deep.equal(['p', 'a']);
      expect(btf.byName('pair_t')).to.deep.equal([4]);
      expect(btf.byName('int')).to.deep.equal([1]);
      expect(sizeOf(btf, 5)).to.equal(16);
      expect(findMember(btf, 4, 'b')).to.deep.include({ bitOffset: 32 });
    });

    it('prints as bpftool prints a split BTF over its base (-B)', function () {
      requireTool(this, 'bpftool');
      const { base, split } = baseAndSplit();
      const directory = mkdtempSync(join(tmpdir(), 'bpf-load-btf-'));
      try {
        writeFileSync(join(directory, 'base'), base);
        writeFileSync(join(directory, 'split'), split);
        const btf = parseBtf(split, { base: parseBtf(base) });
        expect(formatBtf(btf)).to.equal(bpftoolRun('btf', 'dump', 'file', join(directory, 'split'), '-B', join(directory, 'base')));
      } finally {
        rmSync(directory, { recursive: true, force: true });
      }
    });
  });

  describe('malformed BTF is a BtfError naming the type id and what is wrong', () => {
    const strings = new StringTable();
    const intName = strings.add('int');
    const good = [intName, info(KIND.INT), 4, 0x01000020];

    it('one golden message: a reference past the last type', () => {
      const btf = parseBtf(btfBytes([...good, 0, info(KIND.PTR), 7], strings.bytes()), { file: 'x.o', section: '.BTF' });
      const error = expectBtfError(() => btf.type(2), /./);
      expect(error.message).to.equal("x.o: sec '.BTF': BTF type [2]: PTR refers to type 7, past the last id 2");
      expect(error.typeId).to.equal(2);
    });

    const cases: [string, () => unknown, RegExp][] = [
      ['too short for a header', () => parseBtf(new Uint8Array(10)), /10 bytes is shorter than the 24-byte header/],
      ['a bad magic', () => parseBtf(btfBytes(good, strings.bytes(), { magic: 0x1234 })), /magic is 0x1234/],
      ['an unknown version', () => parseBtf(btfBytes(good, strings.bytes(), { version: 2 })), /version 2/],
      ['header flags', () => parseBtf(btfBytes(good, strings.bytes(), { flags: 1 })), /header flags 0x1/],
      ['a header length past the end', () => parseBtf(btfBytes(good, strings.bytes(), { hdrLen: 1000 })), /header length 1000/],
      ['a type section past the end', () => parseBtf(btfBytes(good, strings.bytes(), { typeLen: 400 })), /type section .* past/],
      ['a string section past the end', () => parseBtf(btfBytes(good, strings.bytes(), { strLen: 400 })), /string section .* past/],
      ['overlapping sections', () => parseBtf(btfBytes(good, strings.bytes(), { strOff: 0 })), /overlap/],
      ['strings not ending in NUL', () => parseBtf(btfBytes(good, Buffer.from('\0int'))), /does not end with a NUL/],
      ['an unknown kind', () => parseBtf(btfBytes([...good, 0, info(25), 0], strings.bytes())), /^BTF type \[2\]: unknown kind 25$/],
      ['a record cut off', () => parseBtf(btfBytes([...good, 0, info(KIND.STRUCT, 3), 8, 0, 1, 0], strings.bytes())), /^BTF type \[2\]: STRUCT with vlen 3 runs past/],
      ['vlen on a kind without records', () => parseBtf(btfBytes([0, info(KIND.PTR, 1), 0], strings.bytes())), /^BTF type \[1\]: PTR with vlen 1/],
      ['reserved info bits', () => parseBtf(btfBytes([0, info(KIND.PTR) | 0x10000, 0], strings.bytes())), /reserved bits/],
      ['a name past the strings', () => parseBtf(btfBytes([900, info(KIND.INT), 4, 0x01000020], strings.bytes())).type(1), /^BTF type \[1\]: name offset 900 is past/],
      ['an INT of 3 bytes', () => parseBtf(btfBytes([intName, info(KIND.INT), 3, 24], strings.bytes())).type(1), /INT 'int' has size 3/],
      ['an INT with more bits than bytes', () => parseBtf(btfBytes([intName, info(KIND.INT), 4, 33], strings.bytes())).type(1), /33 bits at bit 0 in 4 bytes/],
      ['kind_flag on a PTR', () => parseBtf(btfBytes([0, info(KIND.PTR, 0, true), 0], strings.bytes())).type(1), /PTR '' has kind_flag set/],
      ['a FUNC linkage of 3', () => parseBtf(btfBytes([0, info(KIND.FUNC, 3), 0], strings.bytes())).type(1), /linkage 3/],
      ['a typedef loop', () => sizeOf(parseBtf(btfBytes([0, info(KIND.TYPEDEF), 2, 0, info(KIND.TYPEDEF), 1], strings.bytes())), 1), /^BTF type \[1\]: more than 32 typedefs/],
      ['an id that does not exist', () => parseBtf(btfBytes(good, strings.bytes())).type(9), /no type with id 9/],
    ];
    for (const [what, fn, message] of cases) it(what, () => void expectBtfError(fn, message));
  });

  it('fuzz: mutants of every fixture .BTF decode, print and size or fail with a BtfError, never anything else', () => {
    let seed = 0x9e3779b9;
    const random = (n: number): number => {
      seed = (Math.imul(seed ^ (seed >>> 15), 0x2c1b3c6d) + 0x6d2b79f5) >>> 0;
      return seed % n;
    };
    const outcomes = { parsed: 0, refused: 0 };
    for (const name of btfFixtures()) {
      const original = objectBtf(readElf(fixtureBytes(name), name), name)!.bytes;
      for (let i = 0; i < 300; i++) {
        const bytes = Uint8Array.from(original);
        const edits = 1 + random(4);
        for (let e = 0; e < edits; e++) {
          const at = random(bytes.length);
          const choice = random(4);
          if (choice === 0) bytes[at] ^= 1 << random(8);
          else if (choice === 1) bytes[at] = [0, 0xff, 0x7f, 0x80][random(4)]!;
          else if (choice === 2 && at + 4 <= bytes.length) new DataView(bytes.buffer).setUint32(at & ~3, [0, 0xffffffff, 0x80000000, bytes.length][random(4)]!, true);
          else bytes[at] = random(256);
        }
        try {
          const btf = parseBtf(bytes, { file: `${name}~${i}` });
          formatBtf(btf);
          for (const id of btf.ids()) {
            try {
              sizeOf(btf, id);
              alignOf(btf, id);
            } catch (error) {
              if (!(error instanceof BtfError)) throw error;
            }
          }
          outcomes.parsed++;
        } catch (error) {
          if (!(error instanceof BtfError)) throw new Error(`${name} mutant ${i}: not a BtfError: ${(error as Error).stack}`);
          expect((error as Error).message).to.contain(`${name}~${i}`);
          outcomes.refused++;
        }
      }
    }
    expect(outcomes.parsed).to.be.greaterThan(50);
    expect(outcomes.refused).to.be.greaterThan(50);
  });
});
