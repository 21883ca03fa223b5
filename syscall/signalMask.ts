import { libcFunctions, lastErrno } from './native.js';
import { SyscallError } from './errors.js';

import { SIG_BLOCK, SIG_SETMASK } from '../uapi/libc.js';
/** glibc's sigset_t: 1024 bits */
const SIGSET_BYTES = 128;

const libc = libcFunctions({ pthreadSigmask: 'int pthread_sigmask(int how, const void *set, _Out_ void *oldset)' });
const everySignal = Buffer.alloc(SIGSET_BYTES, 0xff);
const saved = Buffer.alloc(SIGSET_BYTES);
/** how many withSignalsBlocked() calls are running: only the outermost changes the mask */
let depth = 0;

/**
 * Run a system call with every signal blocked on this thread. The verifier
 * gives up with EAGAIN whenever a signal is pending for the loading thread:
 * under a sampling profiler (node --cpu-prof sends SIGPROF every millisecond
 * or faster) a program whose verification takes longer than the interval
 * could never load, however often it is retried. Blocked, the signal waits
 * until the call returns (a process-directed one, such as Ctrl-C, goes to
 * another thread of the process at once, as it would have). Nested calls
 * run inside the outermost one's mask.
 */
export function withSignalsBlocked<T>(step: () => T): T {
  if (depth > 0) return step();
  const ret = libc.pthreadSigmask(SIG_BLOCK, everySignal, saved) as number;
  // pthread_sigmask returns the error number itself, without setting errno
  if (ret !== 0) throw new SyscallError('pthread_sigmask', ret || lastErrno());
  depth++;
  try {
    return step();
  } finally {
    depth--;
    libc.pthreadSigmask(SIG_SETMASK, saved, null);
  }
}
