import { ElfError, type ElfErrorContext } from './errors.js';

/**
 * Bounds-checked little/big-endian reads over one byte range. Every offset
 * that comes from the file passes through here, so a corrupt offset becomes
 * an ElfError naming what was being read instead of a RangeError.
 */
export class ByteReader {
  private readonly view: DataView;

  constructor(
    readonly bytes: Uint8Array,
    readonly littleEndian: boolean,
    private readonly context: ElfErrorContext,
  ) {
    this.view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  }

  get length(): number {
    return this.bytes.byteLength;
  }

  require(offset: number, size: number, what: string): void {
    if (!Number.isSafeInteger(offset) || !Number.isSafeInteger(size) || offset < 0 || size < 0 ||
        offset + size > this.bytes.byteLength) {
      throw new ElfError(
        `${what} at offset ${offset} (${size} bytes) is past the end of ${this.bytes.byteLength} bytes`,
        this.context,
      );
    }
  }

  u8(offset: number, what: string): number {
    this.require(offset, 1, what);
    return this.view.getUint8(offset);
  }

  u16(offset: number, what: string): number {
    this.require(offset, 2, what);
    return this.view.getUint16(offset, this.littleEndian);
  }

  u32(offset: number, what: string): number {
    this.require(offset, 4, what);
    return this.view.getUint32(offset, this.littleEndian);
  }

  i32(offset: number, what: string): number {
    this.require(offset, 4, what);
    return this.view.getInt32(offset, this.littleEndian);
  }

  /** A 64-bit offset or size; anything past 2^53 cannot index a file we hold in memory. */
  u64(offset: number, what: string): number {
    this.require(offset, 8, what);
    const value = this.view.getBigUint64(offset, this.littleEndian);
    if (value > BigInt(Number.MAX_SAFE_INTEGER)) {
      throw new ElfError(`${what} is ${value}, too large to be a real offset or size`, this.context);
    }
    return Number(value);
  }

  slice(offset: number, size: number, what: string): Uint8Array {
    this.require(offset, size, what);
    return this.bytes.subarray(offset, offset + size);
  }

  /** NUL-terminated string starting at offset; the NUL must be inside the range. */
  cString(offset: number, what: string): string {
    this.require(offset, 0, what);
    const end = this.bytes.indexOf(0, offset);
    if (end < 0) throw new ElfError(`${what} at offset ${offset} is not NUL-terminated`, this.context);
    return new TextDecoder().decode(this.bytes.subarray(offset, end));
  }
}
