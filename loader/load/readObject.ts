import { closeSync, fstatSync, openSync, readSync, statSync, type Stats } from 'node:fs';
import { checkElfMagic } from '../../elf/index.js';
import { LoadError } from '../errors.js';

/**
 * Larger than any BPF object (the kernel takes at most 1M instructions per
 * program, 8 MiB): a bigger file is refused before it is read, instead of
 * being read whole only to be found not to be one.
 */
export const MAX_OBJECT_BYTES = 256 * 1024 * 1024;

/**
 * Read an object file. Only regular files: reading /dev/zero or a FIFO
 * would never end (or block until a writer appears), and a directory gives
 * EISDIR only after the open. The ELF magic is checked on the first bytes
 * before the rest is read. Synchronous for the async API too: an object is
 * kilobytes, read from the page cache in microseconds, while the thread pool's
 * stat, open, read and close round trips cost a millisecond or more, and the
 * load that follows (map creation, the verifier) is synchronous anyway.
 */
export function readObjectFileSync(path: string): Uint8Array {
  let fd: number;
  try {
    checkReadable(path, statSync(path));
    fd = openSync(path, 'r');
  } catch (cause) {
    throw readError(path, cause);
  }
  try {
    const stats = fstatSync(fd);
    checkReadable(path, stats);
    const head = Buffer.alloc(Math.min(4, stats.size));
    readSync(fd, head, 0, head.length, 0);
    checkElfMagic(head, path);
    const bytes = Buffer.alloc(stats.size);
    const bytesRead = readSync(fd, bytes, 0, stats.size, 0);
    return bytes.subarray(0, bytesRead);
  } catch (cause) {
    throw readError(path, cause);
  } finally {
    closeSync(fd);
  }
}

function checkReadable(path: string, stats: Stats): void {
  checkRegular(path, stats);
  if (stats.size > MAX_OBJECT_BYTES) {
    throw new LoadError(
      `cannot read object: it is ${(stats.size / 2 ** 20).toFixed(0)} MiB, more than the ${MAX_OBJECT_BYTES / 2 ** 20} MiB any BPF object needs`,
      { file: path },
      { hint: 'is this the object file (clang -target bpf -c x_kern.c -o x_kern.o)?' },
    );
  }
}

function checkRegular(path: string, stats: Stats): void {
  if (stats.isFile()) return;
  const kind = stats.isDirectory()
    ? 'a directory'
    : stats.isFIFO()
      ? 'a FIFO'
      : stats.isCharacterDevice()
        ? 'a character device'
        : stats.isBlockDevice()
          ? 'a block device'
          : stats.isSocket()
            ? 'a socket'
            : 'not a regular file';
  throw new LoadError(`cannot read object: it is ${kind}, not an object file`, { file: path });
}

const READ_ERROR_REASONS: Record<string, string> = {
  ENOENT: 'ENOENT (no such file)',
  EACCES: 'EACCES (permission denied)',
  EISDIR: 'it is a directory, not an object file',
  ELOOP: 'ELOOP (too many levels of symbolic links: a link loop in the path)',
  EMFILE: 'EMFILE (this process has too many open files: raise `ulimit -n`, or close objects you no longer use)',
  ENFILE: 'ENFILE (the system has too many open files)',
  ERR_FS_FILE_TOO_LARGE: 'the file is larger than 2 GiB, which no BPF object is',
};

function readError(path: string, cause: unknown): Error {
  if (cause instanceof LoadError || (cause instanceof Error && (cause as { code?: unknown }).code === 'BPF_LOAD_ELF')) return cause;
  const error = cause as NodeJS.ErrnoException;
  const reason = READ_ERROR_REASONS[error.code ?? ''] ?? error.code ?? error.message;
  return new LoadError(`cannot read object: ${reason}`, { file: path }, { cause });
}
