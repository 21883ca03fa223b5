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

  #writers: Readonly<Record<string, FieldWriter>> | undefined;

  /** Zero the layout's `end` bytes at `target` and write `values`; returns `end`, the size to pass. */
  encode(target: Uint8Array, values: StructValues<N>): number {
    const end = this.layout.end;
    // the typed array's own fill: a Buffer's goes through Node's argument checks first
    fillBytes.call(target, 0, 0, end);
    const view = viewOf(target);
    const writers = this.#writers ??= this.#compile();
    for (const name in values) {
      const value = values[name];
      if (value === undefined) continue;
      const write = writers[name];
      if (write === undefined) throw new TypeError(`${this.layout.name} has no field ${name}`);
      write(view, target, value);
    }
    return end;
  }

  /** A zeroed buffer of sizeof(struct) with `values` written: an info struct to hand the kernel. */
  alloc(values: StructValues<N> = {}): Buffer {
    const out = Buffer.alloc(this.layout.size);
    this.encode(out, values);
    return out;
  }

  set(target: Uint8Array, name: N, value: FieldValue): void {
    const write = (this.#writers ??= this.#compile())[name];
    if (write === undefined) throw new TypeError(`${this.layout.name} has no field ${name}`);
    write(viewOf(target), target, value);
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

  /** One writer per field, made on the first write: a bpf(2) command then costs no lookup by kind, and a layout never written costs nothing. */
  #compile(): Readonly<Record<string, FieldWriter>> {
    const writers: Record<string, FieldWriter> = Object.create(null);
    for (const field of Object.values(this.layout.fields) as FieldLayout[]) writers[field.name] = fieldWriter(this.layout.name, field, this.littleEndian);
    return writers;
  }
}

type FieldWriter = (view: DataView, bytes: Uint8Array, value: FieldValue) => void;

function fieldWriter(struct: string, field: FieldLayout, le: boolean): FieldWriter {
  const { offset, kind, size } = field;
  switch (kind) {
    case 'u8': return (view, _bytes, value) => view.setUint8(offset, Number(value) >>> 0 & 0xff);
    case 'u16': return (view, _bytes, value) => view.setUint16(offset, Number(value) >>> 0 & 0xffff, le);
    case 'u32': return (view, _bytes, value) => view.setUint32(offset, Number(value) >>> 0, le);
    case 's32': return (view, _bytes, value) => view.setInt32(offset, Number(value) | 0, le);
    case 'u64':
    case 'ptr': return (view, _bytes, value) => writeU64(view, offset, value as number | bigint, le);
    case 'char':
    case 'bytes': {
      // a char array keeps its last byte for the NUL
      const room = kind === 'char' ? size - 1 : size;
      return (_view, bytes, value) => {
        if (typeof value === 'string') return writeLatin1(bytes, offset, room, value);
        if (!(value instanceof Uint8Array)) throw new TypeError(`${struct}.${field.name} takes bytes or a string`);
        bytes.set(value.byteLength > room ? value.subarray(0, room) : value, offset);
      };
    }
  }
}

/** A u64 field: a safe non-negative integer (a size, an fd, 0) goes in as two words, with no bigint made for it; anything else wrapped to 64 bits. */
export function writeU64(view: DataView, offset: number, value: number | bigint, littleEndian: boolean): void {
  if (typeof value === 'number' && value >= 0 && value <= Number.MAX_SAFE_INTEGER && Number.isInteger(value)) {
    view.setUint32(littleEndian ? offset : offset + 4, value % 2 ** 32, littleEndian);
    view.setUint32(littleEndian ? offset + 4 : offset, Math.floor(value / 2 ** 32), littleEndian);
    return;
  }
  view.setBigUint64(offset, BigInt.asUintN(64, typeof value === 'bigint' ? value : BigInt(Number(value))), littleEndian);
}

/** At most `room` characters of `text` at `offset`, latin1, as Buffer.from(text, 'latin1') would write them. */
export function writeLatin1(bytes: Uint8Array, offset: number, room: number, text: string): void {
  const n = Math.min(text.length, room);
  for (let i = 0; i < n; i++) bytes[offset + i] = text.charCodeAt(i);
}

const fillBytes = Uint8Array.prototype.fill;

/** The last view made: nearly every encode writes the one shared attr buffer. */
let lastBytes: Uint8Array | undefined;
let lastView: DataView | undefined;

function viewOf(bytes: Uint8Array): DataView {
  if (bytes === lastBytes) return lastView!;
  lastView = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  lastBytes = bytes;
  return lastView;
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
