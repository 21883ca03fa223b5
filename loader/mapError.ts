import { describeCause } from './errors.js';

const BRAND = Symbol.for('bpf-load.error');

/**
 * An operation on a live map that failed or was refused: names the map, what
 * was being done and, where it matters, the key. The SyscallError (if any) is
 * the cause; its errno name and hint are lifted like LoadError does.
 */
export class MapError extends Error {
  readonly [BRAND] = true;
  readonly code: string;
  readonly map: string;
  readonly errno: number | undefined;
  readonly errnoName: string | undefined;
  readonly hint: string | undefined;

  constructor(map: string, message: string, options: { cause?: unknown; hint?: string; code?: string } = {}) {
    const cause = describeCause(options);
    super(`map '${map}': ${message}${cause.suffix}`, { cause: options.cause });
    this.name = 'MapError';
    this.code = options.code ?? 'BPF_LOAD_MAP';
    this.map = map;
    this.errno = cause.errno;
    this.errnoName = cause.errnoName;
    this.hint = cause.hint;
  }
}

/** Short hex for messages: the whole key when small, else its start. */
export function hexPreview(bytes: Uint8Array, max = 32): string {
  const hex = Buffer.from(bytes.buffer, bytes.byteOffset, Math.min(bytes.byteLength, max)).toString('hex');
  return bytes.byteLength > max ? `${hex}… (${bytes.byteLength} bytes)` : hex;
}
