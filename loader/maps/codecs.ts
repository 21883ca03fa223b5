import { endianness } from 'node:os';
import { LoadError, argumentError, describeValue } from '../errors.js';

/** A value a codec cannot store: the map operation that called it names the map and the key. */
export function encodeError(message: string): LoadError {
  return new LoadError(message, {}, { code: 'BPF_LOAD_MAP_ENCODE' });
}

/**
 * How a key or value is laid out in map memory. Codecs read and write in
 * place (a DataView and the same bytes as a Buffer, at an offset), so walking
 * a batch of entries decodes straight out of the kernel's buffer without an
 * object per entry. Multi-byte integers are in host byte order, as the BPF
 * program sees them.
 */
export interface Codec<T, In = T> {
  /** stable, human-readable: `u32`, `u64`, `bytes[6]`, `struct { src: u32, ... }` */
  readonly name: string;
  readonly size: number;
  /** C alignment, for struct layout */
  readonly align: number;
  decode(bytes: Buffer, view: DataView, offset: number): T;
  /** Writes exactly `size` bytes (padding included) at `offset`. A value it cannot store is a LoadError with code BPF_LOAD_MAP_ENCODE. */
  encode(value: In, bytes: Buffer, view: DataView, offset: number): void;
}

export type Decoded<C> = C extends Codec<infer T, never> ? T : never;

const LE = endianness() === 'LE';

function integer(name: string, size: 1 | 2 | 4, signed: boolean): Codec<number> {
  const min = signed ? -(2 ** (size * 8 - 1)) : 0;
  const max = signed ? 2 ** (size * 8 - 1) - 1 : 2 ** (size * 8) - 1;
  const check = (value: number): void => {
    if (!Number.isInteger(value) || value < min || value > max) {
      if (typeof value !== 'number') {
        const hint = typeof value === 'bigint' ? ` (${name} takes a number; u64 and i64 take bigints)` : '';
        throw encodeError(`${name}: expected a number, got ${typeof value} ${describeValue(value)}${hint}`);
      }
      throw encodeError(`${name}: ${String(value)} is not an integer in [${min}, ${max}]`);
    }
  };
  switch (size) {
    case 1:
      return {
        name, size, align: 1,
        decode: signed ? (_b, v, o) => v.getInt8(o) : (_b, v, o) => v.getUint8(o),
        encode: signed ? (x, _b, v, o) => (check(x), v.setInt8(o, x)) : (x, _b, v, o) => (check(x), v.setUint8(o, x)),
      };
    case 2:
      return {
        name, size, align: 2,
        decode: signed ? (_b, v, o) => v.getInt16(o, LE) : (_b, v, o) => v.getUint16(o, LE),
        encode: signed ? (x, _b, v, o) => (check(x), v.setInt16(o, x, LE)) : (x, _b, v, o) => (check(x), v.setUint16(o, x, LE)),
      };
    case 4:
      return {
        name, size, align: 4,
        decode: signed ? (_b, v, o) => v.getInt32(o, LE) : (_b, v, o) => v.getUint32(o, LE),
        encode: signed ? (x, _b, v, o) => (check(x), v.setInt32(o, x, LE)) : (x, _b, v, o) => (check(x), v.setUint32(o, x, LE)),
      };
  }
}

function bigInteger(name: string, signed: boolean): Codec<bigint> {
  const min = signed ? -(1n << 63n) : 0n;
  const max = signed ? (1n << 63n) - 1n : (1n << 64n) - 1n;
  return {
    name, size: 8, align: 8,
    decode: signed ? (_b, v, o) => v.getBigInt64(o, LE) : (_b, v, o) => v.getBigUint64(o, LE),
    encode: (x, _b, v, o) => {
      if (typeof x !== 'bigint' || x < min || x > max) {
        if (typeof x !== 'bigint') {
          const hint = typeof x === 'number' ? ` (write ${Number.isInteger(x) ? `${x}n` : 'a bigint'}: ${name} takes bigints, since a number loses precision past 2**53)` : '';
          throw encodeError(`${name}: expected a bigint, got ${typeof x} ${describeValue(x)}${hint}`);
        }
        throw encodeError(`${name}: ${String(x)} is not a bigint in [${min}, ${max}]`);
      }
      if (signed) v.setBigInt64(o, x, LE);
      else v.setBigUint64(o, x, LE);
    },
  };
}

export const u8: Codec<number> = integer('u8', 1, false);
export const u16: Codec<number> = integer('u16', 2, false);
export const u32: Codec<number> = integer('u32', 4, false);
export const u64: Codec<bigint> = bigInteger('u64', false);
export const i8: Codec<number> = integer('i8', 1, true);
export const i16: Codec<number> = integer('i16', 2, true);
export const i32: Codec<number> = integer('i32', 4, true);
export const i64: Codec<bigint> = bigInteger('i64', true);

/** Up to this many bytes, a loop copies faster than a native memmove call. */
const SMALL_COPY = 32;

/**
 * Raw bytes of a fixed size: decodes to a fresh Buffer (a copy: the memory
 * behind a map operation is reused), encodes any Uint8Array of exactly `size`.
 */
export function bytes(size: number, align = 1): Codec<Buffer, Uint8Array> {
  if (!Number.isInteger(size) || size < 0) throw argumentError('bytes', 'size', 'a non-negative integer', size);
  if (!Number.isInteger(align) || align < 1) throw argumentError('bytes', 'align', 'a positive integer', align);
  const key = `${size}/${align}`;
  let codec = bytesCodecs.get(key);
  if (!codec) {
    codec = makeBytes(size, align);
    bytesCodecs.set(key, codec);
  }
  return codec;
}

/** Codecs hold no state: every map of one size shares one (a load makes two per map, a walk one per chunk size). */
const bytesCodecs = new Map<string, Codec<Buffer, Uint8Array>>();

function makeBytes(size: number, align: number): Codec<Buffer, Uint8Array> {
  const name = `bytes[${size}]`;
  return {
    name, size, align,
    // keys and values of a few words are copied byte by byte: cheaper than the
    // native memmove behind copy()/set() and the view copy() makes for an offset
    decode: size <= SMALL_COPY
      ? (b, _v, o) => {
          const copy = Buffer.allocUnsafe(size);
          for (let i = 0; i < size; i++) copy[i] = b[o + i]!;
          return copy;
        }
      : (b, _v, o) => {
          const copy = Buffer.allocUnsafe(size);
          copy.set(b.subarray(o, o + size));
          return copy;
        },
    encode: (x, b, _v, o) => {
      if (!(x instanceof Uint8Array)) throw encodeError(`${name}: expected a Uint8Array/Buffer, got ${typeof x}`);
      if (x.byteLength !== size) throw encodeError(`${name}: got ${x.byteLength} bytes`);
      if (size <= SMALL_COPY) for (let i = 0; i < size; i++) b[o + i] = x[i]!;
      else b.set(x, o);
    },
  };
}

/** A NUL-padded char[size]; decodes up to the first NUL (latin1). */
/**
 * char[size] holding text as UTF-8, NUL-padded (the C string's NUL may be
 * left out when the text fills the array). Text whose UTF-8 does not fit is
 * refused, never cut or turned into other bytes.
 */
export function cstring(size: number): Codec<string> {
  if (!Number.isInteger(size) || size < 1) throw argumentError('cstring', 'size', 'a positive integer', size);
  const name = `char[${size}]`;
  return {
    name, size, align: 1,
    decode: (b, _v, o) => {
      const end = b.indexOf(0, o);
      return b.toString('utf8', o, end < 0 || end > o + size ? o + size : end);
    },
    encode: (x, b, _v, o) => {
      if (typeof x !== 'string') throw encodeError(`${name}: expected a string, got ${typeof x} ${describeValue(x)}`);
      const length = Buffer.byteLength(x, 'utf8');
      if (length > size) throw encodeError(`${name}: '${x}' is ${length} bytes in UTF-8, more than the ${size} that fit`);
      if (x.includes('\0')) throw encodeError(`${name}: '${x}' contains a NUL, which would end the C string`);
      b.fill(0, o, o + size);
      b.write(x, o, 'utf8');
    },
  };
}

/** A Codec argument (u32, struct({...}), …): refused with the argument's name rather than failing later on a missing method. */
export function checkCodec(value: unknown, name: string, where: string): void {
  const codec = value as Partial<Codec<unknown>> | null;
  if (typeof codec !== 'object' || codec === null || typeof codec.encode !== 'function' || typeof codec.decode !== 'function' ||
      !Number.isInteger(codec.size)) {
    throw argumentError(where, name, 'a codec (u32, u64, bytes(n), cstring(n), array(…), struct({…}))', value);
  }
}

/** T[length], C layout (elements at multiples of the element size). */
export function array<T, In = T>(element: Codec<T, In>, length: number): Codec<T[], In[]> {
  checkCodec(element, 'element', 'array');
  if (!Number.isInteger(length) || length < 0) throw argumentError('array', 'length', 'a non-negative integer', length);
  const name = `${element.name}[${length}]`;
  return {
    name, size: element.size * length, align: element.align,
    decode: (b, v, o) => {
      const out = new Array<T>(length);
      for (let i = 0; i < length; i++) out[i] = element.decode(b, v, o + i * element.size);
      return out;
    },
    encode: (x, b, v, o) => {
      if (!Array.isArray(x) || x.length !== length) {
        throw encodeError(`${name}: expected an array of ${length}, got ${Array.isArray(x) ? x.length : typeof x}`);
      }
      for (let i = 0; i < length; i++) element.encode(x[i]!, b, v, o + i * element.size);
    },
  };
}

export type StructFields = Record<string, Codec<any, any>>; // eslint-disable-line @typescript-eslint/no-explicit-any
export type StructValue<F extends StructFields> = { [K in keyof F]: Decoded<F[K]> };

export interface StructOptions {
  /** pad the struct to this size (must be at least the computed size), e.g. to match a C struct with a trailing array */
  size?: number;
  /** `__attribute__((packed))`: no padding between fields, alignment 1 */
  packed?: boolean;
}

/**
 * A C struct, fields in declaration order with C alignment rules: each field
 * at the next multiple of its alignment, the size a multiple of the largest
 * alignment. Padding is written as zeros — in a hash key, stray padding bytes
 * would make two equal structs different keys.
 */
export function struct<F extends StructFields>(fields: F, options: StructOptions = {}): Codec<StructValue<F>> {
  if (typeof fields !== 'object' || fields === null) throw argumentError('struct', 'fields', 'an object of codecs', fields);
  for (const [key, codec] of Object.entries(fields)) checkCodec(codec, `fields.${key}`, 'struct');
  const layout: { key: string; codec: Codec<unknown, unknown>; offset: number }[] = [];
  let offset = 0;
  let align = 1;
  for (const [key, codec] of Object.entries(fields)) {
    const fieldAlign = options.packed ? 1 : codec.align;
    offset = alignUp(offset, fieldAlign);
    layout.push({ key, codec, offset });
    offset += codec.size;
    align = Math.max(align, fieldAlign);
  }
  let size = alignUp(offset, align);
  if (options.size !== undefined) {
    if (!Number.isInteger(options.size) || options.size < size) {
      throw argumentError('struct', 'options.size', `an integer of at least ${size} (what its fields need)`, options.size);
    }
    size = options.size;
  }
  const gaps: [number, number][] = [];
  let at = 0;
  for (const field of layout) {
    if (field.offset > at) gaps.push([at, field.offset]);
    at = field.offset + field.codec.size;
  }
  if (size > at) gaps.push([at, size]);
  const name = `struct { ${layout.map((f) => `${f.key}: ${f.codec.name}`).join(', ')} }${options.packed ? ' packed' : ''}`;
  return {
    name, size, align,
    decode: (b, v, o) => {
      const out: Record<string, unknown> = {};
      for (const field of layout) out[field.key] = field.codec.decode(b, v, o + field.offset);
      return out as StructValue<F>;
    },
    encode: (x, b, v, o) => {
      if (typeof x !== 'object' || x === null) throw encodeError(`${name}: expected an object`);
      for (const field of layout) {
        const value = (x as Record<string, unknown>)[field.key];
        if (value === undefined) throw encodeError(`${name}: field '${field.key}' is missing`);
        field.codec.encode(value, b, v, o + field.offset);
      }
      for (const [start, end] of gaps) b.fill(0, o + start, o + end);
    },
  };
}

/** The next multiple of `align` at or above `n`. */
export function alignUp(n: number, align: number): number {
  return Math.ceil(n / align) * align;
}

const NAMED: Record<string, Codec<unknown>> = { u8, u16, u32, u64, i8, i16, i32, i64 };

/**
 * A codec from its name, as a CLI takes it: u8…u64, i8…i64, `hex`/`bytes`
 * (raw, needs `size`), `string` (char[size]). Undefined for an unknown name.
 */
export function codecByName(name: string, size?: number): Codec<unknown> | undefined {
  const named = NAMED[name];
  if (named) return named;
  if ((name === 'hex' || name === 'bytes') && size !== undefined) return bytes(size) as Codec<unknown>;
  if (name === 'string' && size !== undefined) return cstring(size) as Codec<unknown>;
  return undefined;
}

/** Names codecByName accepts. */
export const CODEC_NAMES: readonly string[] = [...Object.keys(NAMED), 'hex', 'bytes', 'string'];
