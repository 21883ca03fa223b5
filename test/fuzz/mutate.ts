import { ElfPatch, SHDR, SYM } from '../support/elfPatch.js';

/** mulberry32: tiny, fast, and the same sequence for the same seed on every machine. */
export function prng(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** One mutant's own seed from the run seed, the fixture and the mutant number: any mutant replays alone. */
export function mutantSeed(runSeed: number, fixture: string, n: number): number {
  let h = (runSeed ^ 0x9e3779b9) >>> 0;
  for (const c of `${fixture}#${n}`) h = Math.imul(h ^ c.charCodeAt(0), 0x01000193) >>> 0;
  return h;
}

interface Field {
  offset: number;
  width: 1 | 2 | 4 | 8;
  what: string;
}

/**
 * Where the interesting fields of a fixture are, found once on the intact
 * file so targeted mutations hit header, section, symbol, relocation and map
 * definition fields instead of landing mostly in instruction bytes.
 */
export interface Layout {
  fields: Field[];
}

const EHDR_FIELDS: Field[] = [
  { offset: 4, width: 1, what: 'EI_CLASS' },
  { offset: 5, width: 1, what: 'EI_DATA' },
  { offset: 16, width: 2, what: 'e_type' },
  { offset: 18, width: 2, what: 'e_machine' },
  { offset: 32, width: 8, what: 'e_phoff' },
  { offset: 40, width: 8, what: 'e_shoff' },
  { offset: 54, width: 2, what: 'e_phentsize' },
  { offset: 56, width: 2, what: 'e_phnum' },
  { offset: 58, width: 2, what: 'e_shentsize' },
  { offset: 60, width: 2, what: 'e_shnum' },
  { offset: 62, width: 2, what: 'e_shstrndx' },
];

export function layoutOf(bytes: Uint8Array): Layout {
  const fields = [...EHDR_FIELDS];
  let elf: ElfPatch;
  try {
    elf = new ElfPatch(bytes);
  } catch {
    // big-endian fixtures: header fields only (their offsets do not depend on byte order)
    return { fields };
  }
  for (let s = 0; s < elf.shnum; s++) {
    for (const [name, [at, width]] of Object.entries(SHDR)) {
      fields.push({ offset: elf.sectionHeaderOffset(s) + at, width, what: `section ${s} sh_${name}` });
    }
  }
  let symtab = -1;
  try {
    symtab = elf.symtabIndex;
  } catch {
    // no symbols: nothing more to target
  }
  if (symtab >= 0) {
    for (let j = 0; j < elf.symbolCount; j++) {
      for (const [name, [at, width]] of Object.entries(SYM)) {
        fields.push({ offset: elf.symbolOffset(j) + at, width, what: `symbol ${j} st_${name}` });
      }
    }
  }
  for (const rel of elf.relSections()) {
    const count = elf.sectionField(rel, 'size') / 16;
    const target = elf.sectionField(rel, 'info');
    const targetOffset = target < elf.shnum ? elf.sectionField(target, 'offset') : -1;
    for (let e = 0; e < count; e++) {
      const base = elf.relocationOffset(rel, e);
      fields.push({ offset: base, width: 8, what: `rel ${rel}/${e} r_offset` });
      fields.push({ offset: base + 8, width: 4, what: `rel ${rel}/${e} type` });
      fields.push({ offset: base + 12, width: 4, what: `rel ${rel}/${e} symbol` });
      // the instruction the relocation patches: ld_imm64 of a map, or a bpf-to-bpf call
      const insn = targetOffset + elf.read(base, 8);
      if (targetOffset >= 0 && insn + 16 <= bytes.length) fields.push(...insnFields(insn, `insn at rel ${rel}/${e}`), { offset: insn + 12, width: 4, what: `insn at rel ${rel}/${e} imm hi` });
    }
  }
  for (let s = 0; s < elf.shnum; s++) {
    if (!(elf.sectionField(s, 'flags') & SHF_EXECINSTR)) continue;
    const start = elf.sectionField(s, 'offset');
    const end = Math.min(bytes.length, start + elf.sectionField(s, 'size'));
    // calls and jumps: their offsets and immediates are what relocation and call-graph code follow
    for (let insn = start; insn + 8 <= end; insn += 8) {
      const opcode = bytes[insn]!;
      if ((opcode & 0x07) === BPF_JMP || (opcode & 0x07) === BPF_JMP32) fields.push(...insnFields(insn, `jmp/call at section ${s}+${insn - start}`));
    }
  }
  for (let s = 0; s < elf.shnum; s++) {
    if (elf.sectionName(s) !== 'maps') continue;
    const start = elf.sectionField(s, 'offset');
    const size = elf.sectionField(s, 'size');
    for (let at = 0; at + 4 <= size; at += 4) fields.push({ offset: start + at, width: 4, what: `maps+${at}` });
  }
  return { fields };
}

const SHF_EXECINSTR = 0x4;
const BPF_JMP = 0x05;
const BPF_JMP32 = 0x06;

function insnFields(at: number, what: string): Field[] {
  return [
    { offset: at, width: 1, what: `${what} opcode` },
    { offset: at + 1, width: 1, what: `${what} regs` },
    { offset: at + 2, width: 2, what: `${what} off` },
    { offset: at + 4, width: 4, what: `${what} imm` },
  ];
}

/** Values that sit on the boundaries parsers get wrong. */
function interesting(width: 1 | 2 | 4 | 8, fileLength: number, old: bigint, rand: () => number): bigint {
  const max = (1n << BigInt(width * 8)) - 1n;
  const candidates = [
    0n, 1n, 2n, 4n, 7n, 8n, 15n, 16n, 24n, 28n, 32n, 36n, 64n, 0x7fn, 0x80n, 0xffn, 0x100n, 0xff00n, 0xffffn,
    0x7fffffffn, 0x80000000n, 0xffffffffn, 0x100000000n, 1n << 53n, (1n << 53n) + 1n, 1n << 63n, max,
    BigInt(fileLength), BigInt(fileLength) - 1n, BigInt(fileLength) + 1n, old + 1n, old - 1n, old * 2n, old + 4n, old - 4n,
    BigInt(Math.floor(rand() * 2 ** 32)),
  ];
  const value = candidates[Math.floor(rand() * candidates.length)]!;
  return ((value % (max + 1n)) + (max + 1n)) % (max + 1n);
}

export type MutationKind = 'bitflip' | 'byte' | 'truncate' | 'duplicate' | 'field';

export interface Mutant {
  bytes: Uint8Array;
  /** what was done, for the failure report */
  steps: string[];
}

/** 1-3 stacked mutations of `original`; the same seed always gives the same mutant. */
export function mutate(original: Uint8Array, layout: Layout, seed: number): Mutant {
  const rand = prng(seed);
  const pick = (n: number) => Math.floor(rand() * n);
  let bytes = Uint8Array.from(original);
  const steps: string[] = [];
  const count = 1 + pick(3);
  for (let m = 0; m < count && bytes.length > 0; m++) {
    const roll = rand();
    if (roll < 0.2) {
      const flips = 1 + pick(8);
      for (let f = 0; f < flips; f++) {
        const at = pick(bytes.length);
        const bit = pick(8);
        bytes[at]! ^= 1 << bit;
        steps.push(`flip bit ${bit} of byte ${at}`);
      }
    } else if (roll < 0.4) {
      const n = 1 + pick(4);
      for (let k = 0; k < n; k++) {
        const at = pick(bytes.length);
        const value = [0, 0xff, pick(256)][pick(3)]!;
        bytes[at] = value;
        steps.push(`byte ${at} = 0x${value.toString(16)}`);
      }
    } else if (roll < 0.5) {
      const length = pick(bytes.length);
      bytes = bytes.slice(0, length);
      steps.push(`truncate to ${length}`);
    } else if (roll < 0.6) {
      const from = pick(bytes.length);
      const size = 1 + pick(Math.min(256, bytes.length - from));
      const to = pick(bytes.length);
      const chunk = bytes.slice(from, from + size);
      if (rand() < 0.5) {
        // overwrite in place: lengths and offsets stay, contents lie
        bytes.set(chunk.subarray(0, Math.max(0, Math.min(chunk.length, bytes.length - to))), to);
        steps.push(`copy ${size} bytes from ${from} over ${to}`);
      } else {
        // insert: everything after `to` moves, so every offset past it is now wrong
        const grown = new Uint8Array(bytes.length + chunk.length);
        grown.set(bytes.subarray(0, to), 0);
        grown.set(chunk, to);
        grown.set(bytes.subarray(to), to + chunk.length);
        bytes = grown;
        steps.push(`insert copy of ${size} bytes from ${from} at ${to}`);
      }
    } else {
      const field = layout.fields[pick(layout.fields.length)]!;
      if (field.offset + field.width > bytes.length) continue;
      const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
      const littleEndian = bytes[5] !== 2;
      const old = readField(view, field, littleEndian);
      const value = interesting(field.width, bytes.length, old, rand);
      writeField(view, field, value, littleEndian);
      steps.push(`${field.what} ${old} -> ${value}`);
    }
  }
  return { bytes, steps };
}

function readField(view: DataView, field: Field, le: boolean): bigint {
  switch (field.width) {
    case 1: return BigInt(view.getUint8(field.offset));
    case 2: return BigInt(view.getUint16(field.offset, le));
    case 4: return BigInt(view.getUint32(field.offset, le));
    case 8: return view.getBigUint64(field.offset, le);
  }
}

function writeField(view: DataView, field: Field, value: bigint, le: boolean): void {
  switch (field.width) {
    case 1: view.setUint8(field.offset, Number(value)); break;
    case 2: view.setUint16(field.offset, Number(value), le); break;
    case 4: view.setUint32(field.offset, Number(value), le); break;
    case 8: view.setBigUint64(field.offset, value, le); break;
  }
}
