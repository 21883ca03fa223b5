/** Short hex for messages: the whole key when small, else its start. */
export function hexPreview(bytes: Uint8Array, max = 32): string {
  const hex = Buffer.from(bytes.buffer, bytes.byteOffset, Math.min(bytes.byteLength, max)).toString('hex');
  return bytes.byteLength > max ? `${hex}… (${bytes.byteLength} bytes)` : hex;
}
