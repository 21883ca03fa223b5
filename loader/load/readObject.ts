import { closeSync, constants, fstatSync, openSync, readSync, type Stats } from 'node:fs';
import { checkElfMagic } from '../../elf/index.js';
import { LoadError } from '../errors.js';

/**
 * Larger than any BPF object (the kernel takes at most 1M instructions per
 * program, 8 MiB): a bigger file is refused before it is read, instead of
 * being read whole only to be found not to be one.
 */
const MAX_OBJECT_BYTES = 256 * 1024 * 1024;

/** Up to this size the whole file is read in one go; a larger one has its ELF magic checked on this much first. */
const FIRST_READ_BYTES = 1024 * 1024;

/**
 * Read an object file. Only regular files: it is opened non-blocking (a FIFO
 * would otherwise block the open until a writer appears) and what the open
 * gave is checked with fstat before anything is read (/dev/zero would never
 * end; a directory opens but cannot be read; libuv adds O_CLOEXEC). An object is read in one read;
 * a file too large to be one has its ELF magic checked on the first MiB before
 * the rest is read. One open, fstat, read and close, as a C loader makes: a
 * stat of the path before the open and a separate read of the magic cost a
 * third of the time of reading a small object. Synchronous for the async API
 * too: an object is kilobytes, read from the page cache in microseconds,
 * while the thread pool's round trips cost a millisecond or more, and the load
 * that follows (map creation, the verifier) is synchronous anyway.
 */
export function readObjectFileSync(path: string): Uint8Array {
  let fd: number;
  try {
    fd = openSync(path, constants.O_RDONLY | constants.O_NONBLOCK);
  } catch (cause) {
    throw readError(path, cause);
  }
  try {
    const stats = fstatSync(fd);
    checkReadable(path, stats);
    const bytes = Buffer.alloc(stats.size);
    let bytesRead = readSync(fd, bytes, 0, Math.min(stats.size, FIRST_READ_BYTES), 0);
    checkElfMagic(bytes.subarray(0, bytesRead), path);
    if (bytesRead === FIRST_READ_BYTES) bytesRead += readSync(fd, bytes, bytesRead, stats.size - bytesRead, bytesRead);
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
