// A key or value in the shape of bpftool's "formatted" JSON (`bpftool map
// dump -j` on a map with BTF): what users compare dump output with. It
// differs from the codecs' values where bpftool does: an enum prints its
// enumerator's name, a char array that is not a printable C string prints
// its bytes, a bitfield and a 128-bit integer print as a hex string ("0x1f",
// bpftool's btf_int128_print), an anonymous member keeps the key "",
// and a data section prints as { ".data": [ { var: value }, … ] }.

import {
  skipModifiers, skipModsAndTypedefs, type Btf, type BtfComposite, type BtfMember,
} from '../../elf/btf/index.js';
import { endianness } from 'node:os';
import { LoadError } from '../errors.js';
import { readBits } from './btfCodec.js';

const LE = endianness() === 'LE';

/** A formatted value: JSON, except that 64-bit integers stay bigints (formattedJson writes them as numbers, as bpftool does). */
export type Formatted = number | bigint | boolean | string | Formatted[] | { [name: string]: Formatted };

/** Deepest nesting followed, against reference loops in malformed BTF. */
const MAX_DEPTH = 64;

/** The value of BTF type `typeId` at `offset` of `bytes`, as bpftool's "formatted" output shows it. */
export function btfFormatted(btf: Btf, typeId: number, bytes: Uint8Array, offset = 0): Formatted {
  const buffer = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  return format(btf, typeId, buffer, offset, 0, 0);
}

/** One entry of `bpftool map dump -j`'s "formatted": `{ key, value }`, or `{ key, values: [{ cpu, value }] }` for a per-CPU map. */
export function formattedEntry(btf: Btf, keyTypeId: number, valueTypeId: number, key: Uint8Array, value: Uint8Array | readonly Uint8Array[]): Formatted {
  const formattedKey = btfFormatted(btf, keyTypeId, key);
  if (Array.isArray(value)) {
    return { key: formattedKey, values: (value as readonly Uint8Array[]).map((v, cpu) => ({ cpu, value: btfFormatted(btf, valueTypeId, v) })) };
  }
  return { key: formattedKey, value: btfFormatted(btf, valueTypeId, value as Uint8Array) };
}

/** JSON text of a formatted value, bigints written as plain numbers (as bpftool prints u64). */
export function formattedJson(value: Formatted, indent?: number): string {
  const marks = new Map<string, string>();
  const text = JSON.stringify(value, (_key, v: unknown) => {
    if (typeof v !== 'bigint') return v;
    const mark = `\u0000bigint${marks.size}\u0000`;
    marks.set(mark, v.toString());
    return mark;
  }, indent);
  return marks.size === 0 ? text : text.replace(/"\\u0000bigint\d+\\u0000"/g, (m) => marks.get(JSON.parse(m) as string)!);
}

function fail(id: number, message: string): never {
  throw new LoadError(`BTF type [${id}]: ${message}`, {}, { code: 'BPF_LOAD_BTF' });
}

/** An unsigned integer of `size` bytes in host order. */
function readUnsigned(b: Buffer, offset: number, size: number): bigint {
  return readBits(b, offset, 0, size * 8, false);
}

/** bpftool's btf_int128_print, which prints bitfields and 128-bit integers: unsigned, as a hex string. */
function wide(value: bigint): Formatted {
  return `0x${BigInt.asUintN(128, value).toString(16)}`;
}

/** Small values as numbers, the rest as bigints (JSON numbers past 2**53 are still written exactly by formattedJson). */
function narrow(value: bigint): Formatted {
  return value >= -(2n ** 53n) && value <= 2n ** 53n ? Number(value) : value;
}

function format(btf: Btf, typeId: number, b: Buffer, offset: number, bitOffset: number, depth: number): Formatted {
  if (depth > MAX_DEPTH) fail(typeId, `nested more than ${MAX_DEPTH} deep`);
  const type = btf.type(typeId);
  switch (type.kind) {
    case 'TYPEDEF':
    case 'CONST':
    case 'VOLATILE':
    case 'RESTRICT':
    case 'TYPE_TAG':
      return format(btf, type.type, b, offset, bitOffset, depth + 1);
    case 'INT': {
      const bits = type.bits;
      const at = bitOffset + type.bitOffset;
      if (at !== 0 || bits !== type.size * 8) return bitfield(b, offset, at, bits);
      if (type.bool) return b[offset] !== 0;
      const raw = readUnsigned(b, offset, type.size);
      if (type.size === 16) return wide(raw);
      return narrow(type.signed ? BigInt.asIntN(bits, raw) : raw);
    }
    case 'PTR':
      return narrow(readUnsigned(b, offset, 8));
    case 'FLOAT': {
      const view = new DataView(b.buffer, b.byteOffset, b.byteLength);
      if (type.size === 4) return view.getFloat32(offset, LE);
      if (type.size === 8) return view.getFloat64(offset, LE);
      return `0x${readUnsigned(b, offset, type.size).toString(16)}`;
    }
    case 'ENUM':
    case 'ENUM64': {
      const raw = readUnsigned(b, offset, type.size);
      const value = type.signed ? BigInt.asIntN(type.size * 8, raw) : raw;
      // eslint-disable-next-line eqeqeq -- number enumerators against a bigint
      const name = (type.values as readonly { name: string; value: number | bigint }[]).find((v) => v.value == value)?.name;
      return name ?? narrow(value);
    }
    case 'ARRAY': {
      const element = btf.type(skipModifiers(btf, type.type));
      if (element.kind === 'INT' && element.size === 1 && (element.char || element.name === 'char')) {
        const text = printableString(b, offset, type.nelems);
        if (text !== undefined) return text;
      }
      const size = elementSize(btf, type.type);
      const out: Formatted[] = [];
      for (let i = 0; i < type.nelems; i++) out.push(format(btf, type.type, b, offset + i * size, 0, depth + 1));
      return out;
    }
    case 'STRUCT':
    case 'UNION':
      return composite(btf, type, b, offset, depth);
    case 'VAR':
      return { [type.name]: format(btf, type.type, b, offset, 0, depth + 1) };
    case 'DATASEC':
      return { [type.name]: type.vars.map((v) => format(btf, v.type, b, offset + v.offset, 0, depth + 1)) };
    default:
      return fail(typeId, `a ${type.kind} has no value to format`);
  }
}

function elementSize(btf: Btf, id: number): number {
  // sizeOf from the reader would do; the element is already known to be sized
  const resolved = btf.type(skipModsAndTypedefs(btf, id));
  switch (resolved.kind) {
    case 'PTR':
      return 8;
    case 'ARRAY':
      return resolved.nelems * elementSize(btf, resolved.type);
    case 'INT':
    case 'ENUM':
    case 'ENUM64':
    case 'FLOAT':
    case 'STRUCT':
    case 'UNION':
      return resolved.size;
    default:
      return fail(id, `a ${resolved.kind} has no size`);
  }
}

/** bpftool's is_str_array: printable characters up to a NUL inside the array; anything else prints as numbers. */
function printableString(b: Buffer, offset: number, length: number): string | undefined {
  if (length === 0) return undefined;
  for (let i = 0; i < length; i++) {
    const c = b[offset + i]!;
    if (c === 0) return b.toString('latin1', offset, offset + i);
    if (c <= 0x1f || c >= 0x7f) return undefined;
  }
  return undefined;
}

function bitfield(b: Buffer, offset: number, bitOffset: number, bits: number): Formatted {
  return wide(readBits(b, offset, bitOffset, bits, false));
}

function composite(btf: Btf, type: BtfComposite, b: Buffer, offset: number, depth: number): Formatted {
  const out: Record<string, Formatted> = {};
  for (const member of type.members) out[member.name] = memberValue(btf, member, b, offset, depth);
  return out;
}

function memberValue(btf: Btf, member: BtfMember, b: Buffer, offset: number, depth: number): Formatted {
  if (member.bitfieldSize > 0) return bitfield(b, offset, member.bitOffset, member.bitfieldSize);
  return format(btf, member.type, b, offset + (member.bitOffset >> 3), member.bitOffset & 7, depth + 1);
}

/**
 * A data section's value as bpftool formats its DATASEC:
 * `{ ".bss": [ { hits: 1 }, { last: { … } } ] }`, the variables at the
 * offsets given (from the symbol table: clang leaves them 0 in the DATASEC).
 */
export function formattedSection(btf: Btf, section: string, variables: readonly { name: string; typeId: number; offset: number }[], bytes: Uint8Array): Formatted {
  const buffer = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  return { [section]: variables.map((v) => ({ [v.name]: format(btf, v.typeId, buffer, v.offset, 0, 0) })) };
}
