import { openSync } from 'node:fs';
import { BPF_BTF_LOAD, BPF_MAP_CREATE, BPF_MAP_UPDATE_ELEM, BPF_PROG_LOAD, commandName, errno, isProbing, overrideBpfSyscall } from '../../syscall/index.js';

/** One bpf(2) call the fake answered: the command and a copy of the attr it was given. */
export interface FakeCall {
  cmd: number;
  name: string;
  attr: Buffer;
  /** what the fake answered: an fd, 0, or -errno */
  ret: number;
}

/**
 * A bpf(2) that never reaches the kernel, so the tests over it run without
 * root or capabilities. Maps and programs are fds of its own (opened on
 * /dev/null, so close() and fd counting work as with real ones); every call
 * is recorded with its attr; `fault` decides which calls fail and how.
 * Commands a load does not make are answered ENOSYS, never passed on.
 */
export class FakeKernel {
  readonly calls: FakeCall[] = [];
  /** fds the fake made, with what they stand for */
  readonly objects = new Map<number, 'map' | 'prog'>();
  #restore: (() => void) | undefined;

  /**
   * `probeFault` answers the feature probes' calls (syscall/probes.ts), which
   * `fault` never sees and `calls` does not record: by default every probe
   * call succeeds, so a probe says the feature is there.
   */
  constructor(
    private readonly fault: (cmd: number, attr: Buffer, nth: number) => number | undefined = () => undefined,
    private readonly probeFault: (cmd: number, attr: Buffer) => number | undefined = () => undefined,
  ) {}

  /** How many times `cmd` was called. */
  count(cmd: number): number {
    return this.calls.filter((call) => call.cmd === cmd).length;
  }

  install(): this {
    this.#restore = overrideBpfSyscall((cmd, attr, size) => this.#call(cmd, attr, size));
    return this;
  }

  uninstall(): void {
    this.#restore?.();
    this.#restore = undefined;
  }

  #call(cmd: number, attr: Buffer, size: number): number {
    if (isProbing()) return this.probeFault(cmd, attr) ?? (cmd === BPF_MAP_CREATE || cmd === BPF_PROG_LOAD || cmd === BPF_BTF_LOAD ? openSync('/dev/null', 'r') : -errno.ENOSYS);
    const nth = this.count(cmd);
    const ret = this.fault(cmd, attr, nth) ?? this.#answer(cmd);
    this.calls.push({ cmd, name: commandName(cmd), attr: Buffer.from(attr.subarray(0, size)), ret });
    return ret;
  }

  #answer(cmd: number): number {
    switch (cmd) {
      case BPF_MAP_CREATE:
      case BPF_PROG_LOAD: {
        const fd = openSync('/dev/null', 'r');
        this.objects.set(fd, cmd === BPF_MAP_CREATE ? 'map' : 'prog');
        return fd;
      }
      case BPF_MAP_UPDATE_ELEM:
        return 0;
      default:
        return -errno.ENOSYS;
    }
  }
}

/** Run `body` with the fake installed, and uninstall it whatever happens. */
export async function withFakeKernel<T>(fake: FakeKernel, body: () => Promise<T> | T): Promise<T> {
  fake.install();
  try {
    return await body();
  } finally {
    fake.uninstall();
  }
}
