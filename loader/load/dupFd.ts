import { BpfFd, SyscallError } from '../../syscall/index.js';
import { LoadError, type LoadErrorContext } from '../errors.js';

/** An owned duplicate of an fd someone else keeps owning. */
export function dupFd(fd: number, context: LoadErrorContext, what: string): BpfFd {
  try {
    return BpfFd.dup(fd);
  } catch (cause) {
    if (cause instanceof SyscallError) throw new LoadError(`cannot ${what} (fd ${fd})`, context, { cause });
    throw cause;
  }
}
