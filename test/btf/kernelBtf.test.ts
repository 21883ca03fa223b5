import { expect } from 'chai';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { parseBtf } from '../../elf/btf/index.js';
import { readElf } from '../../elf/elfFile.js';
import { objectBtf } from '../../elf/btf/index.js';
import {
  KernelBtf, forgetKernelBtf, kconfigBytes, patchExternInstruction, kernelBtf, kfuncFdArraySlots, linuxKernelVersion, objectExterns, parseKallsyms,
  parseKernelConfig, resolveKsyms, runningKernelConfig, type KconfigExtern, type KsymExtern,
} from '../../loader/btf/index.js';
import { LoadError } from '../../loader/errors.js';
import { fixtureBytes, fixturePath } from '../support/fixtures.js';
import { KIND, StringTable, btfBytes, info } from './builder.js';

/**
 * The kernel's BTF as the loader reads it (vmlinux and split module BTF from a
 * directory laid out like /sys/kernel/btf, or a BTF file), and the pure half of
 * extern resolution: the .kconfig layout and bytes, kernel version quirks,
 * kallsyms and __ksym resolution.
 */

/** A base BTF: int, struct task_struct { int pid; }, FUNC_PROTO, FUNC base_func. */
function baseBtf(): Buffer {
  const s = new StringTable();
  const types = [
    s.add('int'), info(KIND.INT), 4, (1 << 24) | 32, // [1]
    s.add('task_struct'), info(KIND.STRUCT, 1), 4, s.add('pid'), 1, 0, // [2]
    0, info(KIND.FUNC_PROTO), 1, // [3]
    s.add('base_func'), info(KIND.FUNC), 3, // [4]
  ];
  return btfBytes(types, s.bytes());
}

/** A module's split BTF over baseBtf: FUNC mod_func (id 5), VAR mod_var (id 6). */
function moduleBtf(baseStrLen: number): Buffer {
  const s = new StringTable();
  const off = (name: string): number => baseStrLen + s.add(name);
  const types = [
    off('mod_func'), info(KIND.FUNC), 3, // [5]
    off('mod_var'), info(KIND.VAR), 1, 1, // [6]
  ];
  return btfBytes(types, s.bytes());
}

describe('kernel BTF: vmlinux and modules from a /sys/kernel/btf-like directory, or a file', () => {
  let dir: string;
  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'bpf-load-kbtf-'));
    const base = baseBtf();
    writeFileSync(join(dir, 'vmlinux'), base);
    writeFileSync(join(dir, 'mymod'), moduleBtf(parseBtf(base).stringTable.length));
    writeFileSync(join(dir, 'broken'), Buffer.from('not btf'));
  });
  after(() => {
    rmSync(dir, { recursive: true, force: true });
    forgetKernelBtf();
  });

  it('reads vmlinux once and finds types there before any module', () => {
    const kernel = kernelBtf({ sysfsDir: dir });
    expect(kernelBtf({ sysfsDir: dir })).to.equal(kernel);
    expect(kernel.moduleNames()).to.deep.equal(['broken', 'mymod']);
    const hit = kernel.findOne('base_func', 'FUNC');
    expect(hit).to.include({ object: 'vmlinux', id: 4 });
  });

  it("finds a module's own types in its split BTF (ids after vmlinux's), skipping a broken module when told to", () => {
    const kernel = kernelBtf({ sysfsDir: dir });
    const broken: string[] = [];
    const hit = kernel.findOne('mod_func', 'FUNC', (name) => broken.push(name));
    expect(hit).to.include({ object: 'mymod', id: 5 });
    expect(hit!.btf.base).to.equal(kernel.vmlinux);
    expect(broken).to.deep.equal(['broken']);
    expect(kernel.findOne('mod_var', 'VAR', () => undefined)).to.include({ object: 'mymod', id: 6 });
    expect(kernel.find('nothing', 'FUNC', () => undefined)).to.deep.equal([]);
    expect(() => kernel.find('nothing', 'FUNC')).to.throw(/broken: BTF: .* shorter than the 24-byte header/);
  });

  it('reads a BTF file instead: raw BTF, or the .BTF section of an ELF file; no modules then', () => {
    const raw = kernelBtf({ btfPath: join(dir, 'vmlinux') });
    expect(raw).to.be.instanceOf(KernelBtf);
    expect(raw.moduleNames()).to.deep.equal([]);
    expect(raw.findOne('task_struct', 'STRUCT')?.id).to.equal(2);
    const elf = kernelBtf({ btfPath: fixturePath('modern/ksym.bpf.o') });
    expect(elf.findOne('bpf_task_from_pid', 'FUNC')?.object).to.equal('vmlinux');
  });

  it('says what is missing when there is no kernel BTF (BPF_LOAD_SYSTEM) or the file given is unreadable (BPF_LOAD_INPUT)', () => {
    const missing = join(dir, 'no-such-dir');
    expect(() => kernelBtf({ sysfsDir: missing })).to.throw(LoadError).with.property('code', 'BPF_LOAD_SYSTEM');
    try {
      kernelBtf({ sysfsDir: missing });
    } catch (error) {
      expect((error as Error).message).to.equal(`the kernel's BTF is needed and ${missing}/vmlinux cannot be read (this kernel was built without CONFIG_DEBUG_INFO_BTF: pass btfPath (a btfhub-style BTF file for this kernel, or a vmlinux with .BTF))`);
    }
    expect(() => kernelBtf({ btfPath: join(dir, 'nope') })).to.throw(LoadError).with.property('code', 'BPF_LOAD_INPUT');
    expect(() => kernelBtf({ btfPath: fixturePath('calls_kern.o') })).to.throw(/without a .BTF section/);
  });
});

describe('externs: LINUX_KERNEL_VERSION as libbpf computes it', () => {
  it('takes Ubuntu\'s version_signature, then Debian\'s uname -v, then uname -r (patch capped at 255)', () => {
    expect(linuxKernelVersion({ release: '6.18.44-fc-v1272', version: '#1 SMP' })).to.equal((6 << 16) + (18 << 8) + 44);
    expect(linuxKernelVersion({ versionSignature: 'Ubuntu 5.15.0-91.101-generic 5.15.131\n', release: '5.15.0-91-generic', version: '#101-Ubuntu SMP' }))
      .to.equal((5 << 16) + (15 << 8) + 131);
    expect(linuxKernelVersion({ release: '6.1.0-18-amd64', version: '#1 SMP PREEMPT_DYNAMIC Debian 6.1.76-1 (2024-02-01)' }))
      .to.equal((6 << 16) + (1 << 8) + 76);
    expect(linuxKernelVersion({ release: '4.9.337', version: '' })).to.equal((4 << 16) + (9 << 8) + 255);
    expect(linuxKernelVersion({ release: 'weird', version: '' })).to.equal(0);
  });
});

const kcfg = (name: string, type: KconfigExtern['type'], size: number, offset: number, extra: Partial<KconfigExtern> = {}): KconfigExtern => ({
  kind: 'kconfig', name, weak: false, varId: 1, type, signed: false, size, align: Math.min(size, 8), offset, ...extra,
});
const virtuals = { LINUX_KERNEL_VERSION: 0x61200, LINUX_HAS_BPF_COOKIE: true, LINUX_HAS_SYSCALL_WRAPPER: false };

describe('externs: the .kconfig map bytes', () => {
  const config = parseKernelConfig('# CONFIG_FOO is not set\nCONFIG_Y=y\nCONFIG_M=m\nCONFIG_N=n\nCONFIG_HZ=1000\nCONFIG_HEX=0x10\nCONFIG_S="abcdef"\nCONFIG_Y=n\n');

  it('parses CONFIG_ lines (first one wins) and refuses one without a value', () => {
    expect([...config]).to.deep.equal([['CONFIG_Y', 'y'], ['CONFIG_M', 'm'], ['CONFIG_N', 'n'], ['CONFIG_HZ', '1000'], ['CONFIG_HEX', '0x10'], ['CONFIG_S', '"abcdef"']]);
    expect(() => parseKernelConfig('CONFIG_X=\n')).to.throw(/no value/);
  });

  it('writes bools, tristates, chars, ints and char arrays as libbpf does', () => {
    const externs = [
      kcfg('CONFIG_M', 'tristate', 4, 0), kcfg('CONFIG_HZ', 'int', 4, 4), kcfg('LINUX_KERNEL_VERSION', 'int', 4, 8),
      kcfg('CONFIG_HEX', 'int', 2, 12), kcfg('CONFIG_Y', 'bool', 1, 14), kcfg('CONFIG_N', 'char', 1, 15),
      kcfg('LINUX_HAS_BPF_COOKIE', 'bool', 1, 16), kcfg('CONFIG_S', 'char-array', 4, 17), kcfg('CONFIG_ABSENT', 'int', 1, 21, { weak: true }),
    ];
    const warnings: string[] = [];
    const bytes = kconfigBytes(externs, 22, config, virtuals, (w) => warnings.push(w));
    expect(Buffer.from(bytes).toString('hex')).to.equal('02000000' + 'e8030000' + '00120600' + '1000' + '01' + '6e' + '01' + '61626300' + '00');
    expect(warnings).to.deep.equal([`extern (kcfg) 'CONFIG_S': long string "abcdef" (6 bytes) truncated to 3 bytes`]);
  });

  it('names a strong extern the config lacks, and a value its type cannot hold', () => {
    expect(() => kconfigBytes([kcfg('CONFIG_ABSENT', 'bool', 1, 0)], 1, config, virtuals))
      .to.throw("sec '.kconfig': extern (kcfg) 'CONFIG_ABSENT': strong extern not found in the kernel configuration (declare it __weak to default it to zero)")
      .with.property('code', 'BPF_LOAD_SYSTEM');
    expect(() => kconfigBytes([kcfg('CONFIG_M', 'bool', 1, 0)], 1, config, virtuals)).to.throw(/value 'm' implies a tristate or char type/);
    expect(() => kconfigBytes([kcfg('CONFIG_HZ', 'int', 1, 0)], 1, config, virtuals)).to.throw(/value 1000 does not fit in 1 bytes/);
    expect(() => kconfigBytes([kcfg('CONFIG_S', 'int', 4, 0)], 4, config, virtuals)).to.throw(/implies a char array type/);
    expect(() => kconfigBytes([kcfg('LINUX_NEW_THING', 'int', 4, 0)], 4, config, virtuals)).to.throw(/unrecognized virtual extern/);
    expect(Buffer.from(kconfigBytes([kcfg('LINUX_NEW_THING', 'int', 4, 0, { weak: true })], 4, config, virtuals))).to.deep.equal(Buffer.alloc(4));
  });

  it('lays out the fixture\'s .kconfig as libbpf does (alignment down, size up, name) and reads a gzipped config file', () => {
    const bytes = fixtureBytes('modern/kconfig.bpf.o');
    const elf = readElf(bytes, 'kconfig.bpf.o');
    const externs = objectExterns(elf.symbols, objectBtf(elf));
    // libbpf 1.1's log: CONFIG_BPF_JIT off 0, CONFIG_HZ 4, LINUX_KERNEL_VERSION 8, CONFIG_BPF_SYSCALL 12,
    // CONFIG_NOT_A_REAL_OPTION 13, LINUX_HAS_BPF_COOKIE 14, CONFIG_LOCALVERSION 15; value_size 47
    expect(externs.kconfig.map((e) => [e.name, e.offset, e.type, e.weak])).to.deep.equal([
      ['CONFIG_BPF_JIT', 0, 'tristate', true], ['CONFIG_HZ', 4, 'int', true], ['LINUX_KERNEL_VERSION', 8, 'int', false],
      ['CONFIG_BPF_SYSCALL', 12, 'bool', false], ['CONFIG_NOT_A_REAL_OPTION', 13, 'bool', true], ['LINUX_HAS_BPF_COOKIE', 14, 'bool', true],
      ['CONFIG_LOCALVERSION', 15, 'char-array', true],
    ]);
    expect(externs.kconfigSize).to.equal(47);
    expect(externs.ksyms.map((e) => [e.name, e.typed, e.func, e.weak])).to.deep.equal([['schedule', false, false, false]]);
    const dir = mkdtempSync(join(tmpdir(), 'bpf-load-kconfig-'));
    try {
      const path = join(dir, 'config.gz');
      writeFileSync(path, gzipSync('CONFIG_BPF_SYSCALL=y\nCONFIG_HZ=250\n'));
      const read = runningKernelConfig(path);
      expect(read.source).to.equal(path);
      const value = kconfigBytes(externs.kconfig, externs.kconfigSize, read.values, virtuals);
      expect(Buffer.from(value.subarray(0, 16)).toString('hex')).to.equal('00000000' + 'fa000000' + '00120600' + '01' + '00' + '01' + '00');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('externs: __ksym and kfuncs', () => {
  const ksym = (name: string, extra: Partial<KsymExtern> = {}): KsymExtern => ({
    kind: 'ksym', name, weak: false, btfId: 1, func: false, typed: false, localTypeId: 0, ...extra,
  });

  it('reads kallsyms (module tail ignored) and marks a name at two addresses ambiguous', () => {
    const symbols = parseKallsyms('ffffffff81000000 T schedule\nffffffffc0001000 t helper\t[mymod]\nffffffff81000010 t dup\nffffffff81000020 t dup\n');
    expect([...symbols]).to.deep.equal([['schedule', 0xffffffff81000000n], ['helper', 0xffffffffc0001000n], ['dup', 'ambiguous']]);
  });

  it('resolves untyped ksyms to addresses, typed ones and kfuncs to BTF ids in vmlinux or a module (fd_array slots from 1)', () => {
    const dir = mkdtempSync(join(tmpdir(), 'bpf-load-ksym-'));
    try {
      const base = baseBtf();
      writeFileSync(join(dir, 'vmlinux'), base);
      writeFileSync(join(dir, 'mymod'), moduleBtf(parseBtf(base).stringTable.length));
      const kernel = kernelBtf({ sysfsDir: dir });
      const kallsyms = parseKallsyms('ffffffff81000000 T schedule\nffffffff81000010 t dup\nffffffff81000020 t dup\n');
      const resolved = resolveKsyms([
        ksym('schedule'), ksym('gone', { weak: true }), ksym('base_func', { func: true, typed: true }),
        ksym('mod_func', { func: true, typed: true }), ksym('mod_var', { typed: true, localTypeId: 1 }),
        ksym('weak_kfunc', { func: true, typed: true, weak: true }),
      ], { kernel, kallsyms });
      expect(resolved).to.deep.equal([
        { name: 'schedule', kind: 'address', address: 0xffffffff81000000n, resolved: true },
        { name: 'gone', kind: 'address', address: 0n, resolved: false },
        { name: 'base_func', kind: 'kfunc', btfId: 4, object: 'vmlinux', resolved: true },
        { name: 'mod_func', kind: 'kfunc', btfId: 5, object: 'mymod', resolved: true },
        { name: 'mod_var', kind: 'btf-id', btfId: 6, object: 'mymod', resolved: true },
        { name: 'weak_kfunc', kind: 'kfunc', btfId: 0, object: 'vmlinux', resolved: false },
      ]);
      expect([...kfuncFdArraySlots(resolved)]).to.deep.equal([['mymod', 1]]);
      expect(() => resolveKsyms([ksym('dup')], { kallsyms })).to.throw(/'dup': resolution is ambiguous/);
      expect(() => resolveKsyms([ksym('missing')], { kallsyms })).to.throw("sec '.ksyms': extern (var ksym) 'missing': not found in /proc/kallsyms (it lists functions only, unless the kernel has CONFIG_KALLSYMS_ALL)");
      expect(() => resolveKsyms([ksym('nope', { func: true, typed: true })], { kernel })).to.throw(/'nope': not found in the kernel's BTF \(vmlinux and modules\)/);
      expect(() => resolveKsyms([ksym('base_func', { func: true, typed: true })], { kernel, localBtf: kernel.vmlinux, compatible: () => false }))
        .to.throw(/incompatible with vmlinux's FUNC \[4\]/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
      forgetKernelBtf();
    }
  });
});

describe('externs: the instruction patches', () => {
  it("writes .kconfig loads as map-value loads at libbpf's offsets and an untyped ksym as its address", () => {
    const bytes = fixtureBytes('modern/kconfig.bpf.o');
    const elf = readElf(bytes, 'kconfig.bpf.o');
    const externs = objectExterns(elf.symbols, objectBtf(elf));
    const section = elf.sections.find((s) => s.name === 'tp_btf/sys_enter')!;
    const code = section.data.slice();
    const schedule = { name: 'schedule', kind: 'address', address: 0xffffffff82248b50n, resolved: true } as const;
    const patched: string[] = [];
    for (const entry of elf.relocations.get(section.index)!.entries) {
      const name = elf.symbols[entry.symbolIndex]!.name;
      const target = name === 'schedule' ? schedule : externs.kconfig.find((e) => e.name === name);
      if (!target) continue;
      const index = entry.offset / 8;
      patchExternInstruction(code, index, target, { kconfigMapFd: 7 }, 'read_externs');
      const view = Buffer.from(code.buffer, code.byteOffset, code.byteLength);
      patched.push(`${name} src=${view[index * 8 + 1]! >> 4} imm=${view.readInt32LE(index * 8 + 4)} imm2=${view.readUInt32LE(index * 8 + 12).toString(16)}`);
    }
    // libbpf's xlated: map[kconfig.kconfig][0]+15, +8, +14, +12, +0, +4, +13 and r2 = 0xffffffff82248b50
    expect(patched.sort()).to.deep.equal([
      'CONFIG_BPF_JIT src=2 imm=7 imm2=0', 'CONFIG_BPF_SYSCALL src=2 imm=7 imm2=c', 'CONFIG_HZ src=2 imm=7 imm2=4',
      'CONFIG_LOCALVERSION src=2 imm=7 imm2=f', 'CONFIG_NOT_A_REAL_OPTION src=2 imm=7 imm2=d', 'LINUX_HAS_BPF_COOKIE src=2 imm=7 imm2=e',
      'LINUX_KERNEL_VERSION src=2 imm=7 imm2=8', `schedule src=0 imm=${0x82248b50 | 0} imm2=ffffffff`,
    ]);
    expect(() => patchExternInstruction(code, 1, schedule, {}, 'read_externs')).to.throw(/prog 'read_externs': insn #1 refers to extern 'schedule': the instruction is 0x/);
  });

  it('writes a kfunc call as a BPF_PSEUDO_KFUNC_CALL of the BTF id, off the module\'s fd_array slot', () => {
    const code = new Uint8Array(16);
    code[0] = 0x85;
    patchExternInstruction(code, 0, { name: 'mod_func', kind: 'kfunc', btfId: 70001, object: 'mymod', resolved: true }, { fdArrayIndex: () => 1 }, 'p');
    const view = Buffer.from(code);
    expect([view[1]! >> 4, view.readInt16LE(2), view.readInt32LE(4)]).to.deep.equal([2, 1, 70001]);
  });
});
