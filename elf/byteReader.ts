import { ElfError, type ElfErrorContext } from './errors.js';

/** The high word of the largest safe integer (2^53 - 1): above it a 64-bit value is no offset or size. */
const HIGH_WORD_MAX = 2 ** 21 - 1;

/**
 * What a read is of, for the message when it fails: a function when the text
 * has to be formatted (`section 3 sh_offset`), so that the reads that succeed,
 * which is all of them in a real object, format nothing.
 */
export type ReadLabel = string | (() => string);

function labelText(what: ReadLabel): string {
  return typeof what === 'string' ? what : what();
}

/**
 * Bounds-checked little/big-endian reads over one byte range. Every offset
 * that comes from the file passes through here, so a corrupt offset becomes
 * an ElfError naming what was being read instead of a RangeError.
 */
export class ByteReader {
  /**
   * For callers that read many fields of a range they checked once with require().
   * Made with the reader, not on first use: a getter would be one more function
   * entered for every read, and only a string table's reader goes without it.
   */
  readonly view: DataView;
  /** the range's size, as a field for the same reason */
  readonly length: number;
  /** next NUL at or after each offset, built on the first cString() */
  #nextNul: Int32Array | undefined;

  constructor(
    readonly bytes: Uint8Array,
    readonly littleEndian: boolean,
    private readonly context: ElfErrorContext,
  ) {
    this.view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    this.length = bytes.byteLength;
  }

  require(offset: number, size: number, what: ReadLabel): void {
    if (!Number.isSafeInteger(offset) || !Number.isSafeInteger(size) || offset < 0 || size < 0 ||
        offset + size > this.bytes.byteLength) {
      throw new ElfError(
        `${labelText(what)} at offset ${offset} (${size} bytes) is past the end of ${this.bytes.byteLength} bytes`,
        this.context,
      );
    }
  }

  u8(offset: number, what: ReadLabel): number {
    this.require(offset, 1, what);
    return this.view.getUint8(offset);
  }

  u16(offset: number, what: ReadLabel): number {
    this.require(offset, 2, what);
    return this.view.getUint16(offset, this.littleEndian);
  }

  u32(offset: number, what: ReadLabel): number {
    this.require(offset, 4, what);
    return this.view.getUint32(offset, this.littleEndian);
  }

  i32(offset: number, what: ReadLabel): number {
    this.require(offset, 4, what);
    return this.view.getInt32(offset, this.littleEndian);
  }

  /**
   * u64() of field `field` of entry `index` of a table (`section 3 sh_size`):
   * the label's parts are passed as they are and joined only if the read
   * fails, so reading every entry of a table allocates nothing for it.
   */
  u64Of(offset: number, entry: string, index: number, field: string): number {
    if (!(Number.isSafeInteger(offset) && offset >= 0 && offset + 8 <= this.bytes.byteLength)) {
      this.require(offset, 8, `${entry} ${index} ${field}`);
    }
    const value = this.#u64(offset);
    if (value < 0) throw this.#tooLarge(offset, `${entry} ${index} ${field}`);
    return value;
  }

  /** A 64-bit offset or size; anything past 2^53 cannot index a file we hold in memory. */
  u64(offset: number, what: ReadLabel): number {
    this.require(offset, 8, what);
    const value = this.#u64(offset);
    if (value < 0) throw this.#tooLarge(offset, labelText(what));
    return value;
  }

  /** The value, or -1 when it is past 2^53. Two 32-bit halves, no BigInt: this runs for every field of every section and symbol. */
  #u64(offset: number): number {
    const low = this.view.getUint32(this.littleEndian ? offset : offset + 4, this.littleEndian);
    const high = this.view.getUint32(this.littleEndian ? offset + 4 : offset, this.littleEndian);
    return high > HIGH_WORD_MAX ? -1 : high * 2 ** 32 + low;
  }

  #tooLarge(offset: number, label: string): ElfError {
    const low = this.view.getUint32(this.littleEndian ? offset : offset + 4, this.littleEndian);
    const high = this.view.getUint32(this.littleEndian ? offset + 4 : offset, this.littleEndian);
    return new ElfError(`${label} is ${(BigInt(high) << 32n) | BigInt(low)}, too large to be a real offset or size`, this.context);
  }

  slice(offset: number, size: number, what: ReadLabel): Uint8Array {
    this.require(offset, size, what);
    return this.bytes.subarray(offset, offset + size);
  }

  /**
   * NUL-terminated string starting at offset; the NUL must be inside the range
   * and at most MAX_STRING_LENGTH bytes away. Where the next NUL is comes from
   * a table built once, so a crafted table of thousands of names that all run
   * to the same distant NUL costs linear time, not quadratic.
   */
  cString(offset: number, what: ReadLabel): string {
    return this.cStringOf(offset, what, -1);
  }

  /** cString() of the name of entry `index` of a table (`name of symbol 3`), the label joined only if the read fails. */
  cStringOf(offset: number, what: ReadLabel, index: number): string {
    return decodeUtf8(this.bytes.subarray(offset, offset + this.cStringLengthOf(offset, what, index)));
  }

  /**
   * The checks of cStringOf() without the decoding: the length in bytes of the
   * string at offset, for a table whose strings another reader decodes.
   */
  cStringLengthOf(offset: number, what: ReadLabel, index: number): number {
    // every name of a real object passes: its label is made only for the error
    if (Number.isSafeInteger(offset) && offset >= 0 && offset <= this.bytes.byteLength) {
      const end = this.nulAtOrAfter(offset);
      if (end >= 0 && end - offset <= MAX_STRING_LENGTH) return end - offset;
    }
    const label = index < 0 ? labelText(what) : `${labelText(what)} ${index}`;
    this.require(offset, 0, label);
    const end = this.nulAtOrAfter(offset);
    if (end < 0) throw new ElfError(`${label} at offset ${offset} is not NUL-terminated`, this.context);
    throw new ElfError(`${label} at offset ${offset} is ${end - offset} bytes long, more than ${MAX_STRING_LENGTH}`, this.context);
  }

  private nulAtOrAfter(offset: number): number {
    // real names are a few dozen bytes: a short scan finds their NUL without building the table
    const near = Math.min(this.bytes.byteLength, offset + SHORT_SCAN);
    for (let i = offset; i < near; i++) if (this.bytes[i] === 0) return i;
    if (this.bytes.byteLength > NUL_TABLE_MAX_BYTES) {
      // a table of this size would cost four times the bytes: scan at most one name's length instead
      const near = this.bytes.subarray(offset, offset + MAX_STRING_LENGTH + 1).indexOf(0);
      // no NUL close by is an error either way; the whole scan happens once, for its message
      return near >= 0 ? offset + near : this.bytes.indexOf(0, offset);
    }
    if (!this.#nextNul) {
      const next = new Int32Array(this.bytes.byteLength + 1);
      let nul = -1;
      next[this.bytes.byteLength] = -1;
      for (let i = this.bytes.byteLength - 1; i >= 0; i--) {
        if (this.bytes[i] === 0) nul = i;
        next[i] = nul;
      }
      this.#nextNul = next;
    }
    return this.#nextNul[offset]!;
  }
}

/** How far a name is scanned for its NUL before the next-NUL table is built (a bounded cost per name either way). */
const SHORT_SCAN = 256;

/** Longer than any symbol or section name a compiler emits for BPF; bounds the work per name. */
export const MAX_STRING_LENGTH = 4096;

/**
 * Up to this size a string table gets the next-NUL table (4 bytes per byte).
 * Real BPF objects' .strtab and .shstrtab are a few KiB; a larger table is
 * scanned name by name, each scan bounded by MAX_STRING_LENGTH.
 */
export const NUL_TABLE_MAX_BYTES = 64 * 1024 * 1024;

/** One decoder for every name: a TextDecoder is costly to make (and to collect), each decode is cheap. */
const utf8 = new TextDecoder();

export function decodeUtf8(bytes: Uint8Array): string {
  return utf8.decode(bytes);
}

/**
 * Whether bytes [start, end) are all ASCII, where a UTF-8 decode maps byte
 * offsets to string indexes one to one (a string table decoded whole then
 * gives each name as a substring) and reads as the bytes' char codes.
 */
export function isAscii(bytes: Uint8Array, start = 0, end = bytes.length): boolean {
  for (let i = start; i < end; i++) if (bytes[i]! > 0x7f) return false;
  return true;
}

/** Bytes [start, end) that isAscii() passed, as a string; for short ones (a decoder call costs more). */
export function shortAsciiString(bytes: Uint8Array, start: number, end: number): string {
  let text = '';
  for (let i = start; i < end; i++) text += String.fromCharCode(bytes[i]!);
  return text;
}
