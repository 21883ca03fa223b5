// BTF back to bytes: what BPF_BTF_LOAD takes. Types are written in the order
// given (so ids are kept: the first is id 1, or the base's count for split
// BTF); names go into a string table that starts as a copy of the original
// one, so an unchanged object's BTF comes out byte for byte as clang wrote it.

import {
  BTF_HEADER_SIZE, BTF_INT_BOOL, BTF_INT_CHAR, BTF_INT_SIGNED, BTF_KIND_ARRAY, BTF_KIND_CONST, BTF_KIND_DATASEC,
  BTF_KIND_DECL_TAG, BTF_KIND_ENUM, BTF_KIND_ENUM64, BTF_KIND_FLOAT, BTF_KIND_FUNC, BTF_KIND_FUNC_PROTO, BTF_KIND_FWD,
  BTF_KIND_INT, BTF_KIND_PTR, BTF_KIND_RESTRICT, BTF_KIND_STRUCT, BTF_KIND_TYPEDEF, BTF_KIND_TYPE_TAG, BTF_KIND_UNION,
  BTF_KIND_VAR, BTF_KIND_VOLATILE, BTF_MAGIC, BTF_VERSION, btfInfo, btfIntData,
} from '../../uapi/btf.js';
import type { Btf } from './btf.js';
import { BtfError } from './errors.js';
import type { BtfType } from './types.js';

const KIND_NUMBERS: Record<Exclude<BtfType['kind'], 'VOID'>, number> = {
  INT: BTF_KIND_INT, PTR: BTF_KIND_PTR, ARRAY: BTF_KIND_ARRAY, STRUCT: BTF_KIND_STRUCT, UNION: BTF_KIND_UNION,
  ENUM: BTF_KIND_ENUM, FWD: BTF_KIND_FWD, TYPEDEF: BTF_KIND_TYPEDEF, VOLATILE: BTF_KIND_VOLATILE, CONST: BTF_KIND_CONST,
  RESTRICT: BTF_KIND_RESTRICT, FUNC: BTF_KIND_FUNC, FUNC_PROTO: BTF_KIND_FUNC_PROTO, VAR: BTF_KIND_VAR,
  DATASEC: BTF_KIND_DATASEC, FLOAT: BTF_KIND_FLOAT, DECL_TAG: BTF_KIND_DECL_TAG, TYPE_TAG: BTF_KIND_TYPE_TAG,
  ENUM64: BTF_KIND_ENUM64,
};

/** A string table under construction: the seed's strings keep their offsets, new ones are appended. */
class StringWriter {
  readonly #offsets = new Map<string, number>();
  readonly #chunks: Uint8Array[] = [];
  #length = 0;
  readonly #encoder = new TextEncoder();

  constructor(seed: Uint8Array | undefined, readonly base: number) {
    if (seed && seed.length > 0) {
      this.#chunks.push(seed);
      this.#length = seed.length;
      const decoder = new TextDecoder();
      let start = 0;
      while (start < seed.length) {
        const end = seed.indexOf(0, start);
        const stop = end < 0 ? seed.length : end;
        const text = decoder.decode(seed.subarray(start, stop));
        if (!this.#offsets.has(text)) this.#offsets.set(text, start);
        start = stop + 1;
      }
    } else if (base === 0) {
      this.add('');
    }
  }

  add(text: string): number {
    const known = this.#offsets.get(text);
    if (known !== undefined) return this.base + known;
    const bytes = this.#encoder.encode(`${text}\0`);
    const offset = this.#length;
    this.#chunks.push(bytes);
    this.#length += bytes.length;
    this.#offsets.set(text, offset);
    return this.base + offset;
  }

  bytes(): Uint8Array {
    const out = new Uint8Array(this.#length);
    let at = 0;
    for (const chunk of this.#chunks) {
      out.set(chunk, at);
      at += chunk.length;
    }
    return out;
  }
}

export interface MarshalOptions {
  /** byte order of the output (default: little-endian, every BPF host's but s390x's) */
  littleEndian?: boolean;
  /** the original string table: unchanged names keep their offsets */
  strings?: Uint8Array;
  /** for split BTF: the base, whose strings the offsets continue */
  base?: Btf;
}

/** The types of a BTF (its own, not its base's), in id order: what marshalBtf takes back. */
export function btfTypes(btf: Btf): BtfType[] {
  const types: BtfType[] = [];
  for (const id of btf.ids()) types.push(btf.type(id));
  return types;
}

/** Bytes of a BTF holding these types (the first gets the first id) in the kernel's layout. */
export function marshalBtf(types: readonly BtfType[], options: MarshalOptions = {}): Uint8Array {
  const little = options.littleEndian ?? true;
  const base = options.base ? options.base.stringBase + options.base.stringTable.length : 0;
  const strings = new StringWriter(options.strings, base);
  const words: number[] = [];
  for (const type of types) encodeType(type, strings, words);
  const stringBytes = strings.bytes();
  const typeLen = words.length * 4;
  const out = new Uint8Array(BTF_HEADER_SIZE + typeLen + stringBytes.length);
  const view = new DataView(out.buffer);
  view.setUint16(0, BTF_MAGIC, little);
  out[2] = BTF_VERSION;
  out[3] = 0;
  view.setUint32(4, BTF_HEADER_SIZE, little);
  view.setUint32(8, 0, little);
  view.setUint32(12, typeLen, little);
  view.setUint32(16, typeLen, little);
  view.setUint32(20, stringBytes.length, little);
  for (let i = 0; i < words.length; i++) view.setUint32(BTF_HEADER_SIZE + i * 4, words[i]! >>> 0, little);
  out.set(stringBytes, BTF_HEADER_SIZE + typeLen);
  return out;
}

function encodeType(type: BtfType, strings: StringWriter, out: number[]): void {
  if (type.kind === 'VOID') throw new BtfError('void (id 0) is implicit and cannot be written', { typeId: type.id });
  const kind = KIND_NUMBERS[type.kind];
  const name = strings.add(type.name);
  switch (type.kind) {
    case 'INT': {
      const encoding = (type.signed ? BTF_INT_SIGNED : 0) | (type.char ? BTF_INT_CHAR : 0) | (type.bool ? BTF_INT_BOOL : 0);
      out.push(name, btfInfo(kind, 0), type.size, btfIntData(encoding, type.bitOffset, type.bits));
      return;
    }
    case 'PTR':
    case 'TYPEDEF':
    case 'VOLATILE':
    case 'CONST':
    case 'RESTRICT':
    case 'TYPE_TAG':
      out.push(name, btfInfo(kind, 0, type.kindFlag), type.type);
      return;
    case 'ARRAY':
      out.push(name, btfInfo(kind, 0), 0, type.type, type.indexType, type.nelems);
      return;
    case 'STRUCT':
    case 'UNION':
      out.push(name, btfInfo(kind, type.members.length, type.kindFlag), type.size);
      for (const m of type.members) {
        out.push(strings.add(m.name), m.type, type.kindFlag ? ((m.bitfieldSize << 24) | m.bitOffset) >>> 0 : m.bitOffset);
      }
      return;
    case 'ENUM':
      out.push(name, btfInfo(kind, type.values.length, type.signed), type.size);
      for (const v of type.values) out.push(strings.add(v.name), v.value >>> 0);
      return;
    case 'ENUM64':
      out.push(name, btfInfo(kind, type.values.length, type.signed), type.size);
      for (const v of type.values) {
        const raw = BigInt.asUintN(64, v.value);
        out.push(strings.add(v.name), Number(raw & 0xffffffffn), Number(raw >> 32n));
      }
      return;
    case 'FWD':
      out.push(name, btfInfo(kind, 0, type.union), 0);
      return;
    case 'FUNC':
      out.push(name, btfInfo(kind, type.linkage), type.type);
      return;
    case 'FUNC_PROTO':
      out.push(name, btfInfo(kind, type.params.length), type.returnType);
      for (const p of type.params) out.push(strings.add(p.name), p.type);
      return;
    case 'VAR':
      out.push(name, btfInfo(kind, 0), type.type, type.linkage);
      return;
    case 'DATASEC':
      out.push(name, btfInfo(kind, type.vars.length), type.size);
      for (const v of type.vars) out.push(v.type, v.offset, v.size);
      return;
    case 'FLOAT':
      out.push(name, btfInfo(kind, 0), type.size);
      return;
    case 'DECL_TAG':
      out.push(name, btfInfo(kind, 0, type.kindFlag), type.type, type.componentIdx >>> 0);
      return;
  }
}
