/** C strings, as the kernel reads them from user memory and writes them back: NUL-terminated. */

/** `text` and its terminating NUL. */
export function toCString(text: string, encoding: BufferEncoding = 'utf8'): Buffer {
  return Buffer.from(`${text}\0`, encoding);
}

/** The C string at the start of `bytes`: up to its first NUL, or all of it when there is none. */
export function fromCString(bytes: Buffer, encoding: BufferEncoding = 'utf8'): string {
  const end = bytes.indexOf(0);
  return bytes.toString(encoding, 0, end < 0 ? bytes.byteLength : end);
}
