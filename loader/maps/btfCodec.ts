// Codecs built from BTF: a map's key and value (or a global variable) decoded
// by the type the object declares, and the same bytes in bpftool's
// "formatted" JSON shape for dump. What each kind becomes in JavaScript:
//   ints of 1, 2, 4 bytes   number (signedness from BTF); 8 and 16 bytes: bigint
//   bool                    boolean
//   char[N]                 string (NUL-trimmed; encode pads with NULs)
//   other arrays            arrays (nested for several dimensions)
//   struct, union           objects by member name (anonymous members' fields flattened in)
//   enum                    its numeric value (bigint for 64-bit enums); encode also takes a name
//   pointer                 bigint (the address)
//   float, double           number
// Typedefs and qualifiers are looked through. Multi-byte values and bitfields
// are in the host's byte order, as the program sees them.

import { endianness } from 'node:os';
import {
  alignOf, describe, sizeOf, skipModifiers, skipModsAndTypedefs, type Btf, type BtfComposite, type BtfEnum, type BtfEnum64,
  type BtfInt, type BtfMember, type DatasecVariable,
} from '../../elf/btf/index.js';
import { LoadError, describeValue } from '../errors.js';
import { cstring, encodeError, type Codec } from './codecs.js';

const LE = endianness() === 'LE';

/** What a BTF-built codec decodes to (and encodes from). */
export type BtfValue = number | bigint | boolean | string | BtfValue[] | { [member: string]: BtfValue };

/** A codec built from BTF, with the type it came from. */
export interface BtfCodec extends Codec<BtfValue, unknown> {
  readonly btf: Btf;
  readonly typeId: number;
}

function btfCodecError(btf: Btf, id: number, message: string): LoadError {
  return new LoadError(`BTF type [${id}] ${describe(btf.type(id))}: ${message}`, {}, { code: 'BPF_LOAD_BTF' });
}

/**
 * A codec for BTF type `typeId` of `btf`: `map.typed(btfCodec(btf, keyId), btfCodec(btf, valueId))`.
 * Void, functions and forward declarations have no bytes to decode: a LoadError (BPF_LOAD_BTF).
 */
export function btfCodec(btf: Btf, typeId: number): BtfCodec {
  const cache = new Map<number, Codec<BtfValue, unknown>>();
  const codec = build(btf, typeId, cache, 0);
  return { ...codec, btf, typeId };
}

/**
 * The codec of a data section's map value (`.data`, `.rodata`, `.bss`, …):
 * an object of the variables by name, each at its offset, `size` bytes in all.
 * Bytes no variable covers are kept as they are on encode (callers write a
 * value read back from the map).
 */
export function btfVariablesCodec(btf: Btf, name: string, variables: readonly DatasecVariable[], size: number): BtfCodec {
  const cache = new Map<number, Codec<BtfValue, unknown>>();
  const fields = variables.map((v) => ({ name: v.name, offset: v.offset, codec: build(btf, v.typeId, cache, 0) }));
  for (const field of fields) {
    if (field.offset + field.codec.size > size) {
      throw new LoadError(`variable '${field.name}' of ${name} (offset ${field.offset}, ${field.codec.size} bytes) lies past its ${size} bytes`, {}, { code: 'BPF_LOAD_BTF' });
    }
  }
  return {
    btf, typeId: 0, name, size, align: 8,
    decode: (b, v, o) => {
      const out: Record<string, BtfValue> = {};
      for (const field of fields) out[field.name] = field.codec.decode(b, v, o + field.offset);
      return out;
    },
    encode: (x, b, v, o) => {
      if (typeof x !== 'object' || x === null || Array.isArray(x)) throw encodeError(`${name}: expected an object of variables, got ${describeValue(x)}`);
      for (const field of fields) {
        const value = (x as Record<string, unknown>)[field.name];
        if (value !== undefined) field.codec.encode(value, b, v, o + field.offset);
      }
    },
  };
}

/** Deepest nesting of arrays and structs followed, against reference loops in malformed BTF. */
const MAX_DEPTH = 64;

function build(btf: Btf, typeId: number, cache: Map<number, Codec<BtfValue, unknown>>, depth: number): Codec<BtfValue, unknown> {
  if (depth > MAX_DEPTH) throw btfCodecError(btf, typeId, `nested more than ${MAX_DEPTH} deep`);
  const cached = cache.get(typeId);
  if (cached) return cached;
  const codec = make(btf, typeId, cache, depth);
  cache.set(typeId, codec);
  return codec;
}

function make(btf: Btf, typeId: number, cache: Map<number, Codec<BtfValue, unknown>>, depth: number): Codec<BtfValue, unknown> {
  const id = skipModsAndTypedefs(btf, typeId);
  const type = btf.type(id);
  const name = typeName(btf, typeId);
  switch (type.kind) {
    case 'INT':
      if (type.bitOffset !== 0 || type.bits !== type.size * 8) {
        // an int encoding narrower than its storage: read as a bitfield of it
        return named(bitfield(type.size, type.bitOffset, type.bits, intShape(type), type.bool), name, type.size, alignOf(btf, id));
      }
      return named(intCodec(type), name);
    case 'ENUM':
    case 'ENUM64':
      return named(enumCodec(type), name);
    case 'PTR':
      return named(intCodec({ size: 8, signed: false, bool: false }), name);
    case 'FLOAT':
      return named(floatCodec(btf, id, type.size), name);
    case 'ARRAY': {
      if (isCharArray(btf, type.type) && type.nelems > 0) return named(cstring(type.nelems) as Codec<BtfValue, unknown>, name);
      const element = build(btf, type.type, cache, depth + 1);
      return arrayCodec(element, type.nelems, name);
    }
    case 'STRUCT':
    case 'UNION':
      return compositeCodec(btf, type, name, cache, depth);
    default:
      throw btfCodecError(btf, typeId, `a ${type.kind} has no value to decode`);
  }
}

/** C's name of a type, as a codec's name: `struct flow_key`, `__u32`, `char[16]`. */
export function typeName(btf: Btf, typeId: number): string {
  const type = btf.type(typeId);
  switch (type.kind) {
    case 'VOID':
      return 'void';
    case 'STRUCT':
    case 'UNION':
      return `${type.kind.toLowerCase()} ${type.name || '(anon)'}`;
    case 'ENUM':
    case 'ENUM64':
      return `enum ${type.name || '(anon)'}`;
    case 'PTR':
      return `${typeName(btf, type.type)} *`;
    case 'ARRAY':
      return `${typeName(btf, type.type)}[${type.nelems}]`;
    case 'CONST':
    case 'VOLATILE':
    case 'RESTRICT':
    case 'TYPE_TAG':
      return typeName(btf, skipModifiers(btf, typeId));
    default:
      return type.name || type.kind.toLowerCase();
  }
}

function named(codec: Codec<BtfValue, unknown>, name: string, size = codec.size, align = codec.align): Codec<BtfValue, unknown> {
  return { name, size, align, decode: codec.decode, encode: codec.encode };
}

/** Bytes of the element after modifiers (typedefs kept, as in bpftool): a 1-byte int that is `char`. */
function isCharArray(btf: Btf, elementId: number): boolean {
  const element = btf.type(skipModifiers(btf, elementId));
  return element.kind === 'INT' && element.size === 1 && (element.char || element.name === 'char');
}

interface IntShape {
  size: number;
  signed: boolean;
  bool: boolean;
}

function intShape(type: BtfInt): IntShape {
  return { size: type.size, signed: type.signed, bool: type.bool };
}

function intCodec(shape: IntShape): Codec<BtfValue, unknown> {
  const { size, signed } = shape;
  if (shape.bool && size === 1) {
    return {
      name: 'bool', size: 1, align: 1,
      decode: (b, _v, o) => b[o] !== 0,
      encode: (x, b, _v, o) => {
        if (typeof x !== 'boolean' && x !== 0 && x !== 1) throw encodeError(`bool: expected a boolean, got ${describeValue(x)}`);
        b[o] = x ? 1 : 0;
      },
    };
  }
  const bits = size * 8;
  if (size === 1 || size === 2 || size === 4) {
    const min = signed ? -(2 ** (bits - 1)) : 0;
    const max = signed ? 2 ** (bits - 1) - 1 : 2 ** bits - 1;
    const what = `${signed ? 's' : 'u'}${bits}`;
    const check = (x: unknown): number => {
      if (typeof x !== 'number' || !Number.isInteger(x) || x < min || x > max) {
        throw encodeError(`${what}: expected an integer in [${min}, ${max}], got ${describeValue(x)}`);
      }
      return x;
    };
    const decode: Codec<BtfValue, unknown>['decode'] = size === 1
      ? (signed ? (_b, v, o) => v.getInt8(o) : (_b, v, o) => v.getUint8(o))
      : size === 2
        ? (signed ? (_b, v, o) => v.getInt16(o, LE) : (_b, v, o) => v.getUint16(o, LE))
        : (signed ? (_b, v, o) => v.getInt32(o, LE) : (_b, v, o) => v.getUint32(o, LE));
    const encode: Codec<BtfValue, unknown>['encode'] = size === 1
      ? (signed ? (x, _b, v, o) => v.setInt8(o, check(x)) : (x, _b, v, o) => v.setUint8(o, check(x)))
      : size === 2
        ? (signed ? (x, _b, v, o) => v.setInt16(o, check(x), LE) : (x, _b, v, o) => v.setUint16(o, check(x), LE))
        : (signed ? (x, _b, v, o) => v.setInt32(o, check(x), LE) : (x, _b, v, o) => v.setUint32(o, check(x), LE));
    return { name: what, size, align: size, decode, encode };
  }
  if (size === 8 || size === 16) {
    const min = signed ? -(1n << BigInt(bits - 1)) : 0n;
    const max = signed ? (1n << BigInt(bits - 1)) - 1n : (1n << BigInt(bits)) - 1n;
    const what = `${signed ? 's' : 'u'}${bits}`;
    return {
      name: what, size, align: Math.min(size, 8),
      decode: (b, _v, o) => readBits(b, o, 0, bits, signed),
      encode: (x, b, _v, o) => {
        if (typeof x !== 'bigint' || x < min || x > max) {
          const hint = typeof x === 'number' && Number.isInteger(x) ? ` (write ${x}n: ${what} takes bigints)` : '';
          throw encodeError(`${what}: expected a bigint in [${min}, ${max}], got ${describeValue(x)}${hint}`);
        }
        writeBits(b, o, 0, bits, x);
      },
    };
  }
  throw new LoadError(`an integer of ${size} bytes has no codec (BTF ints are 1, 2, 4, 8 or 16 bytes)`, {}, { code: 'BPF_LOAD_BTF' });
}

/** The `count` bytes at `first` as one unsigned integer, in the host's order. */
function readSpan(b: Buffer, first: number, count: number): bigint {
  let raw = 0n;
  if (LE) for (let i = count - 1; i >= 0; i--) raw = (raw << 8n) | BigInt(b[first + i]!);
  else for (let i = 0; i < count; i++) raw = (raw << 8n) | BigInt(b[first + i]!);
  return raw;
}

/** Reads `bits` bits at bit `bitOffset` of the bytes at `offset` (host order), sign-extended when `signed`. */
export function readBits(b: Buffer, offset: number, bitOffset: number, bits: number, signed: boolean): bigint {
  const first = offset + (bitOffset >> 3);
  const shift = bitOffset & 7;
  const count = (shift + bits + 7) >> 3;
  const raw = readSpan(b, first, count);
  const value = LE ? (raw >> BigInt(shift)) & ((1n << BigInt(bits)) - 1n) : (raw >> BigInt(count * 8 - shift - bits)) & ((1n << BigInt(bits)) - 1n);
  return signed ? BigInt.asIntN(bits, value) : value;
}

/** Writes `value` into `bits` bits at bit `bitOffset`, keeping the bits around it. */
function writeBits(b: Buffer, offset: number, bitOffset: number, bits: number, value: bigint): void {
  const first = offset + (bitOffset >> 3);
  const shift = bitOffset & 7;
  const count = (shift + bits + 7) >> 3;
  let raw = readSpan(b, first, count);
  const at = BigInt(LE ? shift : count * 8 - shift - bits);
  const mask = ((1n << BigInt(bits)) - 1n) << at;
  raw = (raw & ~mask) | ((BigInt.asUintN(bits, value) << at) & mask);
  if (LE) for (let i = 0; i < count; i++, raw >>= 8n) b[first + i] = Number(raw & 0xffn);
  else for (let i = count - 1; i >= 0; i--, raw >>= 8n) b[first + i] = Number(raw & 0xffn);
}

/**
 * A bitfield: `bits` bits at `bitOffset` from the member's start. Decodes as
 * its declared type would (number up to 4-byte types, bigint for 8-byte
 * ones, boolean for bool); encode keeps the neighbouring bits.
 */
function bitfield(storage: number, bitOffset: number, bits: number, shape: IntShape, bool = false): Codec<BtfValue, unknown> {
  const big = shape.size > 4;
  const min = shape.signed ? -(1n << BigInt(bits - 1)) : 0n;
  const max = shape.signed ? (1n << BigInt(bits - 1)) - 1n : (1n << BigInt(bits)) - 1n;
  const what = `${shape.signed ? 's' : 'u'}${shape.size * 8}:${bits}`;
  return {
    name: what, size: storage, align: 1,
    decode: (b, _v, o) => {
      const value = readBits(b, o, bitOffset, bits, shape.signed);
      return bool ? value !== 0n : big ? value : Number(value);
    },
    encode: (x, b, _v, o) => {
      let value: bigint;
      if (bool && typeof x === 'boolean') value = x ? 1n : 0n;
      else if (typeof x === 'bigint') value = x;
      else if (typeof x === 'number' && Number.isInteger(x)) value = BigInt(x);
      else throw encodeError(`${what}: expected an integer, got ${describeValue(x)}`);
      if (value < min || value > max) throw encodeError(`${what}: ${value} does not fit in [${min}, ${max}]`);
      writeBits(b, o, bitOffset, bits, value);
    },
  };
}

function enumCodec(type: BtfEnum | BtfEnum64): Codec<BtfValue, unknown> {
  const int = intCodec({ size: type.size, signed: type.signed, bool: false });
  const byName = new Map<string, number | bigint>(type.values.map((v) => [v.name, v.value]));
  const big = type.size > 4;
  return {
    name: `enum ${type.name}`, size: int.size, align: int.align, decode: int.decode,
    encode: (x, b, v, o) => {
      let value: unknown = x;
      if (typeof x === 'string') {
        if (!byName.has(x)) throw encodeError(`enum ${type.name || '(anon)'}: no enumerator '${x}' (it has ${[...byName.keys()].join(', ') || 'none'})`);
        value = byName.get(x);
      }
      if (big && typeof value === 'number' && Number.isInteger(value)) value = BigInt(value);
      if (!big && typeof value === 'bigint') value = Number(value);
      int.encode(value, b, v, o);
    },
  };
}

/** The enumerator's name for a value of enum type `typeId`, or undefined when none has that value. */
export function enumName(btf: Btf, typeId: number, value: number | bigint): string | undefined {
  const type = btf.type(skipModsAndTypedefs(btf, typeId));
  if (type.kind !== 'ENUM' && type.kind !== 'ENUM64') return undefined;
  // eslint-disable-next-line eqeqeq -- a number enumerator and a bigint value compare by value
  return type.values.find((v) => v.value == value)?.name;
}

function floatCodec(btf: Btf, id: number, size: number): Codec<BtfValue, unknown> {
  const check = (x: unknown): number => {
    if (typeof x !== 'number') throw encodeError(`float${size * 8}: expected a number, got ${describeValue(x)}`);
    return x;
  };
  if (size === 4) {
    return { name: 'float', size, align: 4, decode: (_b, v, o) => v.getFloat32(o, LE), encode: (x, _b, v, o) => v.setFloat32(o, check(x), LE) };
  }
  if (size === 8) {
    return { name: 'double', size, align: 8, decode: (_b, v, o) => v.getFloat64(o, LE), encode: (x, _b, v, o) => v.setFloat64(o, check(x), LE) };
  }
  throw btfCodecError(btf, id, `a ${size}-byte float has no JavaScript number (only float and double do)`);
}

function arrayCodec(element: Codec<BtfValue, unknown>, length: number, name: string): Codec<BtfValue, unknown> {
  const step = element.size;
  return {
    name, size: step * length, align: element.align,
    decode: (b, v, o) => {
      const out = new Array<BtfValue>(length);
      for (let i = 0; i < length; i++) out[i] = element.decode(b, v, o + i * step);
      return out;
    },
    encode: (x, b, v, o) => {
      if (!Array.isArray(x) || x.length !== length) {
        throw encodeError(`${name}: expected an array of ${length}, got ${Array.isArray(x) ? `an array of ${x.length}` : describeValue(x)}`);
      }
      for (let i = 0; i < length; i++) element.encode(x[i], b, v, o + i * step);
    },
  };
}

interface Field {
  key: string;
  /** byte offset of the member's storage in the struct */
  offset: number;
  codec: Codec<BtfValue, unknown>;
}

/** A member's bitfield position, when it is one: bits within its storage, and the storage's byte offset. */
function bitfieldOf(btf: Btf, parent: BtfComposite, member: BtfMember): { byte: number; bitOffset: number; bits: number; int: IntShape; bool: boolean } | undefined {
  const target = btf.type(skipModsAndTypedefs(btf, member.type));
  let bits = member.bitfieldSize;
  let bitOffset = member.bitOffset;
  if (target.kind === 'INT') {
    if (!parent.kindFlag && (target.bits !== target.size * 8 || target.bitOffset !== 0)) {
      bits = target.bits;
      bitOffset += target.bitOffset;
    }
  }
  if (bits === 0 && bitOffset % 8 === 0) return undefined;
  if (bits === 0) bits = sizeOf(btf, member.type) * 8;
  const int: IntShape = target.kind === 'INT' ? intShape(target)
    : target.kind === 'ENUM' || target.kind === 'ENUM64' ? { size: target.size, signed: target.signed, bool: false }
      : { size: sizeOf(btf, member.type), signed: false, bool: false };
  return { byte: bitOffset >> 3, bitOffset: bitOffset & 7, bits, int, bool: target.kind === 'INT' && target.bool };
}

function compositeFields(btf: Btf, type: BtfComposite, base: number, cache: Map<number, Codec<BtfValue, unknown>>, depth: number): Field[] {
  const fields: Field[] = [];
  for (const member of type.members) {
    const bf = bitfieldOf(btf, type, member);
    if (bf) {
      fields.push({
        key: member.name, offset: base + bf.byte,
        codec: bitfield((bf.bitOffset + bf.bits + 7) >> 3, bf.bitOffset, bf.bits, bf.int, bf.bool),
      });
      continue;
    }
    const offset = base + member.bitOffset / 8;
    const target = btf.type(skipModsAndTypedefs(btf, member.type));
    if (member.name === '' && (target.kind === 'STRUCT' || target.kind === 'UNION')) {
      // an anonymous struct or union: its members are the parent's, as in C
      if (depth > MAX_DEPTH) throw btfCodecError(btf, type.id, `nested more than ${MAX_DEPTH} deep`);
      fields.push(...compositeFields(btf, target, offset, cache, depth + 1));
      continue;
    }
    fields.push({ key: member.name, offset, codec: build(btf, member.type, cache, depth + 1) });
  }
  return fields;
}

function compositeCodec(btf: Btf, type: BtfComposite, name: string, cache: Map<number, Codec<BtfValue, unknown>>, depth: number): Codec<BtfValue, unknown> {
  const fields = compositeFields(btf, type, 0, cache, depth);
  const size = type.size;
  for (const field of fields) {
    if (field.offset + field.codec.size > size) throw btfCodecError(btf, type.id, `member '${field.key}' lies past the ${size} bytes`);
  }
  const union = type.kind === 'UNION';
  return {
    name, size, align: alignOf(btf, type.id),
    decode: (b, v, o) => {
      const out: Record<string, BtfValue> = {};
      for (const field of fields) out[field.key] = field.codec.decode(b, v, o + field.offset);
      return out;
    },
    encode: (x, b, v, o) => {
      if (typeof x !== 'object' || x === null || Array.isArray(x)) throw encodeError(`${name}: expected an object, got ${describeValue(x)}`);
      // padding and the bits between bitfields as zeros: two equal keys must be equal bytes
      b.fill(0, o, o + size);
      const value = x as Record<string, unknown>;
      let written = 0;
      for (const field of fields) {
        const member = value[field.key];
        if (member === undefined) {
          if (union) continue;
          throw encodeError(`${name}: member '${field.key}' is missing`);
        }
        field.codec.encode(member, b, v, o + field.offset);
        written++;
      }
      if (union && written === 0 && fields.length > 0) {
        throw encodeError(`${name}: give one of its members (${fields.map((f) => f.key).join(', ')})`);
      }
      for (const key of Object.keys(value)) {
        if (!fields.some((f) => f.key === key)) throw encodeError(`${name}: has no member '${key}'`);
      }
    },
  };
}
