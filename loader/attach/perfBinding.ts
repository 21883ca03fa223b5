import {
  BPF_ATTACH_TYPE, PERF_EVENT_IOC_DISABLE, PERF_EVENT_IOC_ENABLE, PERF_EVENT_IOC_SET_BPF, SyscallError, errno, linkCreate,
  perfEventIoctl, type BpfFd,
} from '../../syscall/index.js';

/**
 * How a program is tied to a perf event: `link`, a bpf_link (BPF_LINK_CREATE
 * with BPF_PERF_EVENT, Linux >= 5.15); `legacy`, PERF_EVENT_IOC_SET_BPF on
 * the event, as bpf_load.c did; `auto`, a link where the kernel has perf
 * links and the ioctl where it does not.
 */
export type PerfBindingVia = 'link' | 'legacy' | 'auto';

export interface PerfBinding {
  /** Stops the program running on the event: closes the link, or disables the event. The event fd stays the caller's. */
  detach(): void;
  /** the bpf_link, when the binding is one */
  link?: BpfFd;
}

/** Run the program on every sample or hit of an open perf event, and enable the event. */
export function bindPerfEvent(event: BpfFd, progFd: number, via: PerfBindingVia, cookie?: bigint): PerfBinding {
  if (via !== 'legacy') {
    const link = perfLink(event, progFd, via === 'auto', cookie);
    if (link) {
      try {
        perfEventIoctl(event.fd, PERF_EVENT_IOC_ENABLE, 0, 'PERF_EVENT_IOC_ENABLE');
      } catch (error) {
        link.close();
        throw error;
      }
      return { detach: () => link.close(), link };
    }
  }
  perfEventIoctl(event.fd, PERF_EVENT_IOC_SET_BPF, progFd, 'PERF_EVENT_IOC_SET_BPF');
  perfEventIoctl(event.fd, PERF_EVENT_IOC_ENABLE, 0, 'PERF_EVENT_IOC_ENABLE');
  return { detach: () => perfEventIoctl(event.fd, PERF_EVENT_IOC_DISABLE, 0, 'PERF_EVENT_IOC_DISABLE') };
}

/**
 * The perf link, or undefined when `orNone` and the kernel predates perf links (it does not know
 * the attach type). `cookie`: what bpf_get_attach_cookie() returns to the program on this event.
 */
function perfLink(event: BpfFd, progFd: number, orNone: boolean, cookie?: bigint): BpfFd | undefined {
  try {
    return linkCreate({ progFd, target: event.fd, attachType: BPF_ATTACH_TYPE.PERF_EVENT, ...(cookie !== undefined ? { cookie } : {}) });
  } catch (error) {
    const tooOld = error instanceof SyscallError && (error.errno === errno.EINVAL || error.errno === errno.EOPNOTSUPP);
    if (orNone && tooOld) return undefined;
    throw error;
  }
}
