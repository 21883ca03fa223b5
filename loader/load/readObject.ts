import { readFileSync, statSync, type Stats } from 'node:fs';
import { LoadError } from '../errors.js';

/**
 * Read an object file. Only regular files: reading /dev/zero or a FIFO
 * would never end (or block until a writer appears), and a directory gives
 * EISDIR only after the open. Synchronous for the async API too: an object is
 * kilobytes, read from the page cache in microseconds, while the thread pool's
 * stat, open, read and close round trips cost a millisecond or more, and the
 * load that follows (map creation, the verifier) is synchronous anyway.
 */
export function readObjectFileSync(path: string): Uint8Array {
  try {
    checkRegular(path, statSync(path));
    return readFileSync(path);
  } catch (cause) {
    throw readError(path, cause);
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
  ERR_FS_FILE_TOO_LARGE: 'the file is larger than 2 GiB, which no BPF object is',
};

function readError(path: string, cause: unknown): LoadError {
  if (cause instanceof LoadError) return cause;
  const error = cause as NodeJS.ErrnoException;
  const reason = READ_ERROR_REASONS[error.code ?? ''] ?? error.code ?? error.message;
  return new LoadError(`cannot read object: ${reason}`, { file: path }, { cause });
}
