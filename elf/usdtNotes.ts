import { ByteReader } from './byteReader.js';
import { ElfError } from './errors.js';
import type { ElfSymbolTables } from './funcOffset.js';

/**
 * USDT probes (SystemTap's SDT, <sys/sdt.h>'s STAP_PROBE) of an executable
 * or shared library, as libbpf's usdt.c reads them: each `.note.stapsdt`
 * note gives a probe's address, the `.stapsdt.base` address it was linked
 * against (a prelinked binary moved since), the semaphore's address (0: no
 * semaphore), provider, name and where its arguments are; addresses become
 * file offsets through the segments that load them. And the argument
 * strings of x86-64 (`-4@%edi 8@-16(%rbp) 4@$5`) turned into the specs
 * libbpf's usdt.bpf.h reads: `struct __bpf_usdt_spec`, written here byte
 * for byte.
 */

const NT_STAPSDT = 3;

export interface UsdtProbe {
  provider: string;
  name: string;
  /** where the uprobe goes: the probe's file offset */
  offset: number;
  /** the semaphore's file offset (the kernel's ref_ctr_offset), 0 when the probe has none */
  semaphoreOffset: number;
  /** the argument locations as the note spells them */
  args: string;
}

/** Every USDT probe of the binary (all of them, or those of `provider:name`), in note order. */
export function usdtProbes(tables: ElfSymbolTables, provider?: string, name?: string): UsdtProbe[] {
  const notes = tables.section('.note.stapsdt');
  if (!notes) return [];
  const base = tables.section('.stapsdt.base');
  const context = { file: tables.file, section: '.note.stapsdt' };
  const r = new ByteReader(tables.sectionBytes(notes, '.note.stapsdt'), tables.littleEndian, context);
  const probes: UsdtProbe[] = [];
  let at = 0;
  while (at + 12 <= r.length) {
    const nameSize = r.u32(at, 'n_namesz');
    const descSize = r.u32(at + 4, 'n_descsz');
    const type = r.u32(at + 8, 'n_type');
    const nameAt = at + 12;
    const descAt = nameAt + align4(nameSize);
    const next = descAt + align4(descSize);
    r.require(nameAt, next - nameAt, 'note');
    at = next;
    if (type !== NT_STAPSDT || r.cString(nameAt, 'note name') !== 'stapsdt') continue;
    const desc = new ByteReader(r.slice(descAt, descSize, 'note description'), tables.littleEndian, context);
    let address = desc.u64(0, 'probe address');
    const linkedBase = desc.u64(8, 'base address');
    const semaphore = desc.u64(16, 'semaphore address');
    const probeProvider = desc.cString(24, 'provider');
    const probeName = desc.cString(24 + probeProvider.length + 1, 'probe name');
    const args = desc.cString(24 + probeProvider.length + probeName.length + 2, 'argument string');
    if ((provider !== undefined && probeProvider !== provider) || (name !== undefined && probeName !== name)) continue;
    // a prelinked binary: the probe moved with .stapsdt.base
    if (base && linkedBase) address += base.addr - linkedBase;
    const offset = tables.addressToOffset(address, true);
    if (offset === undefined) {
      throw new ElfError(`USDT ${probeProvider}:${probeName} at 0x${address.toString(16)} is in no executable segment`, context);
    }
    let semaphoreOffset = 0;
    if (semaphore) {
      const found = tables.addressToOffset(semaphore, false);
      if (found === undefined) {
        throw new ElfError(`USDT ${probeProvider}:${probeName}: its semaphore at 0x${semaphore.toString(16)} is in no loaded segment`, context);
      }
      semaphoreOffset = found;
    }
    probes.push({ provider: probeProvider, name: probeName, offset, semaphoreOffset, args });
  }
  return probes;
}

function align4(n: number): number {
  return (n + 3) & ~3;
}

/** enum __bpf_usdt_arg_type of usdt.bpf.h */
export const USDT_ARG = { CONST: 0, REG: 1, REG_DEREF: 2 } as const;

export interface UsdtArgSpec {
  type: (typeof USDT_ARG)[keyof typeof USDT_ARG];
  /** the constant, or the offset from the register's value */
  valOff: bigint;
  /** offsetof(struct pt_regs, register) */
  regOff: number;
  signed: boolean;
  /** 64 - 8 * size: shifted out (and back, sign-extending) to cast a 1-, 2- or 4-byte value */
  bitshift: number;
}

/** x86-64's struct pt_regs, in the kernel's order: each register's offset, under every name of its parts. */
const X86_64_REGISTERS: Readonly<Record<string, number>> = (() => {
  const order = ['r15', 'r14', 'r13', 'r12', 'bp', 'bx', 'r11', 'r10', 'r9', 'r8', 'ax', 'cx', 'dx', 'si', 'di', 'orig_ax', 'ip', 'cs', 'flags', 'sp', 'ss'];
  const offset = (field: string): number => 8 * order.indexOf(field);
  const names: Record<string, number> = { rip: offset('ip'), eip: offset('ip') };
  for (const [field, parts] of Object.entries({
    ax: ['rax', 'eax', 'ax', 'al'], bx: ['rbx', 'ebx', 'bx', 'bl'], cx: ['rcx', 'ecx', 'cx', 'cl'], dx: ['rdx', 'edx', 'dx', 'dl'],
    si: ['rsi', 'esi', 'si', 'sil'], di: ['rdi', 'edi', 'di', 'dil'], bp: ['rbp', 'ebp', 'bp', 'bpl'], sp: ['rsp', 'esp', 'sp', 'spl'],
  })) {
    for (const part of parts) names[part] = offset(field);
  }
  for (let n = 8; n <= 15; n++) for (const suffix of ['', 'd', 'w', 'b']) names[`r${n}${suffix}`] = offset(`r${n}`);
  return names;
})();

/** The most arguments usdt.bpf.h has room for (BPF_USDT_MAX_ARG_CNT). */
export const USDT_MAX_ARGS = 12;

/**
 * An x86-64 argument string (`-4@%edi 8@-16(%rbp) 4@$5 8@(%rax)`) as usdt.bpf.h's
 * specs, or why it cannot be: the forms libbpf 1.x reads (a register, memory at
 * a register plus an offset, a constant), sizes 1, 2, 4 and 8, signed when negative.
 */
export function parseUsdtArgs(args: string): { specs: UsdtArgSpec[] } | { error: string } {
  const specs: UsdtArgSpec[] = [];
  for (const arg of args.split(/\s+/).filter((a) => a !== '')) {
    const match = /^(-?\d+)@(.+)$/.exec(arg);
    if (!match) return { error: `'${arg}' is not SIZE@LOCATION` };
    const size = Number(match[1]);
    const bytes = Math.abs(size);
    if (![1, 2, 4, 8].includes(bytes)) return { error: `'${arg}': size ${size} is not 1, 2, 4 or 8 bytes` };
    const common = { signed: size < 0, bitshift: 64 - 8 * bytes };
    const location = match[2]!;
    let found: RegExpExecArray | null;
    if ((found = /^\$(-?(?:0x[0-9a-fA-F]+|\d+))$/.exec(location))) {
      specs.push({ type: USDT_ARG.CONST, valOff: BigInt.asUintN(64, BigInt(found[1]!)), regOff: 0, ...common });
    } else if ((found = /^%([a-z0-9]+)$/.exec(location))) {
      const regOff = X86_64_REGISTERS[found[1]!];
      if (regOff === undefined) return { error: `'${arg}': unknown register %${found[1]}` };
      specs.push({ type: USDT_ARG.REG, valOff: 0n, regOff, ...common });
    } else if ((found = /^(-?(?:0x[0-9a-fA-F]+|\d+))?\(%([a-z0-9]+)\)$/.exec(location))) {
      const regOff = X86_64_REGISTERS[found[2]!];
      if (regOff === undefined) return { error: `'${arg}': unknown register %${found[2]}` };
      specs.push({ type: USDT_ARG.REG_DEREF, valOff: BigInt.asUintN(64, BigInt(found[1] ?? 0)), regOff, ...common });
    } else {
      return { error: `'${arg}': an argument location libbpf's usdt.bpf.h cannot read (register, offset(register) or $constant)` };
    }
  }
  if (specs.length > USDT_MAX_ARGS) return { error: `${specs.length} arguments, more than usdt.bpf.h's ${USDT_MAX_ARGS}` };
  return { specs };
}

/** sizeof(struct __bpf_usdt_spec): 12 argument specs of 16 bytes, the cookie, the count. */
export const USDT_SPEC_SIZE = 208;

/** A `struct __bpf_usdt_spec` in the host's byte order, as usdt.bpf.h reads it from __bpf_usdt_specs. */
export function encodeUsdtSpec(specs: readonly UsdtArgSpec[], cookie: bigint, littleEndian: boolean): Uint8Array {
  const bytes = new Uint8Array(USDT_SPEC_SIZE);
  const view = new DataView(bytes.buffer);
  specs.forEach((spec, i) => {
    const at = 16 * i;
    view.setBigUint64(at, spec.valOff, littleEndian);
    view.setUint32(at + 8, spec.type, littleEndian);
    view.setInt16(at + 12, spec.regOff, littleEndian);
    view.setUint8(at + 14, spec.signed ? 1 : 0);
    view.setInt8(at + 15, spec.bitshift);
  });
  view.setBigUint64(192, BigInt.asUintN(64, cookie), littleEndian);
  view.setInt16(200, specs.length, littleEndian);
  return bytes;
}
