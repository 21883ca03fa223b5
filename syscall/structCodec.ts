import { endianness } from 'node:os';
import type { FieldLayout, StructLayout } from '../uapi/layout.js';

/** The kernel's structs are in the host's byte order. */
export const HOST_LITTLE_ENDIAN = endianness() === 'LE';

export type FieldValue = number | bigint | string | Uint8Array;
export type StructValues<N extends string> = { readonly [K in N]?: FieldValue | undefined };

/**
 * Reads and writes one uapi layout's fields by name in one byte order (the
 * host's unless told): the only code in syscall/ that knows where a field
 * sits. Writes coerce like C assignment to an unsigned field (`>>> 0`); a
 * string goes into a char array NUL-terminated and cut to fit; u64 and ptr
 * fields take a number or a bigint and read back as bigint.
 */
export class StructCodec<N extends string> {
  constructor(
    readonly layout: StructLayout<N>,
    readonly littleEndian: boolean = HOST_LITTLE_ENDIAN,
  ) {}

  /** Zero the layout's `end` bytes at `target` and write `values`; returns `end`, the size to pass. */
  encode(target: Uint8Array, values: StructValues<N>): number {
    target.fill(0, 0, this.layout.end);
    const view = viewOf(target);
    for (const name of Object.keys(values) as N[]) {
      const value = values[name];
      if (value !== undefined) this.#put(view, target, this.#field(name), value);
    }
    return this.layout.end;
  }

  /** A zeroed buffer of sizeof(struct) with `values` written: an info struct to hand the kernel. */
  alloc(values: StructValues<N> = {}): Buffer {
    const out = Buffer.alloc(this.layout.size);
    this.encode(out, values);
    return out;
  }

  set(target: Uint8Array, name: N, value: FieldValue): void {
    this.#put(viewOf(target), target, this.#field(name), value);
  }

  /**
   * A u8..u32 or s32 field; a u64 or ptr one as a number when it fits 53 bits
   * (a count, a length). `at`: where the struct starts in `source` (a record
   * in a message); a field past the end of `source` reads as 0.
   */
  get(source: Uint8Array, name: N, at = 0): number {
    const field = this.#field(name);
    const offset = at + field.offset;
    if (offset + field.size > source.byteLength) return 0;
    const view = viewOf(source);
    switch (field.kind) {
      case 'u8': return view.getUint8(offset);
      case 'u16': return view.getUint16(offset, this.littleEndian);
      case 'u32': return view.getUint32(offset, this.littleEndian);
      case 's32': return view.getInt32(offset, this.littleEndian);
      case 'u64':
      case 'ptr': return Number(view.getBigUint64(offset, this.littleEndian));
      default: throw new TypeError(`${this.layout.name}.${name} is an array, not a number`);
    }
  }

  /**
   * A reader of one number field, resolved once for a hot loop:
   * `read(view, base)` is the field of the struct that starts at `base` in
   * `view`. With `mask` (size - 1 of a ring of 2^n bytes) the field's own
   * position wraps, as a record's does in a perf ring: a naturally aligned
   * field of an 8-byte-aligned record never straddles the end. A u64 reads
   * as a number from its two words, exact below 2^53 (a time in ns, a count),
   * with no bigint per call.
   */
  fieldReader(name: N, mask = -1): (view: DataView, base: number) => number {
    const field = this.#field(name);
    const { offset } = field;
    const le = this.littleEndian;
    switch (field.kind) {
      case 'u8': return (view, base) => view.getUint8((base + offset) & mask);
      case 'u16': return (view, base) => view.getUint16((base + offset) & mask, le);
      case 'u32': return (view, base) => view.getUint32((base + offset) & mask, le);
      case 's32': return (view, base) => view.getInt32((base + offset) & mask, le);
      case 'u64':
      case 'ptr': {
        const [lo, hi] = le ? [0, 4] : [4, 0];
        return (view, base) => {
          const at = (base + offset) & mask;
          return view.getUint32(at + hi, le) * 2 ** 32 + view.getUint32(at + lo, le);
        };
      }
      default: throw new TypeError(`${this.layout.name}.${name} is an array, not a number`);
    }
  }

  getBig(source: Uint8Array, name: N): bigint {
    const field = this.#field(name);
    if (field.kind !== 'u64' && field.kind !== 'ptr') return BigInt(this.get(source, name));
    if (field.offset + field.size > source.byteLength) return 0n;
    return viewOf(source).getBigUint64(field.offset, this.littleEndian);
  }

  /** A char array up to its first NUL. */
  getString(source: Uint8Array, name: N): string {
    const bytes = this.getBytes(source, name);
    const nul = bytes.indexOf(0);
    return Buffer.from(bytes.buffer, bytes.byteOffset, nul < 0 ? bytes.byteLength : nul).toString('latin1');
  }

  /** The bytes of a field (a view). */
  getBytes(source: Uint8Array, name: N): Uint8Array {
    const field = this.#field(name);
    return source.subarray(field.offset, Math.min(field.offset + field.size, source.byteLength));
  }

  #field(name: N): FieldLayout {
    const field = this.layout.fields[name];
    if (!field) throw new TypeError(`${this.layout.name} has no field ${name}`);
    return field;
  }

  #put(view: DataView, bytes: Uint8Array, field: FieldLayout, value: FieldValue): void {
    const { offset, kind } = field;
    switch (kind) {
      case 'u8': view.setUint8(offset, Number(value) >>> 0 & 0xff); return;
      case 'u16': view.setUint16(offset, Number(value) >>> 0 & 0xffff, this.littleEndian); return;
      case 'u32': view.setUint32(offset, Number(value) >>> 0, this.littleEndian); return;
      case 's32': view.setInt32(offset, Number(value) | 0, this.littleEndian); return;
      case 'u64':
      case 'ptr': view.setBigUint64(offset, BigInt.asUintN(64, typeof value === 'bigint' ? value : BigInt(Number(value))), this.littleEndian); return;
      case 'char':
      case 'bytes': {
        const source = typeof value === 'string' ? Buffer.from(value, 'latin1') : value instanceof Uint8Array ? value : undefined;
        if (!source) throw new TypeError(`${this.layout.name}.${field.name} takes bytes or a string`);
        // a char array keeps its last byte for the NUL
        const room = kind === 'char' ? field.size - 1 : field.size;
        bytes.set(source.subarray(0, room), offset);
        return;
      }
    }
  }
}

function viewOf(bytes: Uint8Array): DataView {
  return new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

/**
 * The indexes of a u64/ptr field's low and high 32-bit words in a Uint32Array
 * over a struct (host order): for the hot paths that write the attr as words.
 */
export function wordIndexes(field: FieldLayout, littleEndian: boolean = HOST_LITTLE_ENDIAN): [lo: number, hi: number] {
  if (field.offset % 8 !== 0 || field.size !== 8) throw new TypeError(`${field.name} is not an aligned 64-bit field`);
  const first = field.offset / 4;
  return littleEndian ? [first, first + 1] : [first + 1, first];
}

/** The index of a u32 field in a Uint32Array over a struct. */
export function wordIndex(field: FieldLayout): number {
  if (field.offset % 4 !== 0 || field.size !== 4) throw new TypeError(`${field.name} is not an aligned 32-bit field`);
  return field.offset / 4;
}
