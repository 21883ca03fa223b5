import { constants } from 'node:os';
import {
  NetlinkError, SyscallError, XDP_FLAGS_DRV_MODE, XDP_FLAGS_HW_MODE, XDP_FLAGS_REPLACE, XDP_FLAGS_SKB_MODE, XDP_FLAGS_UPDATE_IF_NOEXIST,
  errno, ifNameToIndex, setLinkXdpFd,
} from '../../syscall/index.js';
import {
  Attachment, attachStep, interfaceIndex, detachProgram, progFdOf, programIdOf, programLabel, type ProgramRef,
} from './attachment.js';

export interface XdpOptions {
  /** `skb` (generic, any interface), `drv` (native, in the driver), `hw` (offload); default: the kernel picks */
  mode?: 'skb' | 'drv' | 'hw';
  /** replace a program already attached (default: refuse, like xdp1's XDP_FLAGS_UPDATE_IF_NOEXIST) */
  replace?: boolean;
}

const MODE_FLAGS = { skb: XDP_FLAGS_SKB_MODE, drv: XDP_FLAGS_DRV_MODE, hw: XDP_FLAGS_HW_MODE } as const;

/**
 * Attach an XDP program to an interface over rtnetlink (IFLA_XDP), as
 * `ip link set dev IF xdp…` does. close() detaches it, but only while it is
 * still the attached program (it never removes someone else's).
 */
export function attachXdp(program: ProgramRef, ifname: string | number, options: XdpOptions = {}): Attachment {
  const what = `attach XDP program to ${typeof ifname === 'number' ? `ifindex ${ifname}` : `'${ifname}'`}`;
  const progFd = progFdOf(program, what);
  const ifindex = interfaceIndex(program, ifname, what);
  const modeFlags = options.mode ? MODE_FLAGS[options.mode] : 0;
  const progId = programIdOf(program, what);
  attachStep(program, what, () => setLinkXdpFd(ifindex, progFd, modeFlags | (options.replace ? 0 : XDP_FLAGS_UPDATE_IF_NOEXIST)),
    (cause) => xdpHint(cause, options));
  const target = typeof ifname === 'number' ? `ifindex ${ifname}` : ifname;
  return new Attachment('xdp', target, programLabel(program), () => {
    try {
      // XDP_FLAGS_REPLACE: only if our program is still the one attached
      detachProgram(program, progId, (expectedFd) => setLinkXdpFd(ifindex, -1, modeFlags | XDP_FLAGS_REPLACE, expectedFd));
    } catch (error) {
      // EEXIST: another program replaced ours; ENODEV: the interface is gone (and the program with it)
      if (error instanceof SyscallError && (error.errno === errno.EEXIST || error.errno === constants.errno.ENODEV)) return;
      throw error;
    }
  });
}

function xdpHint(cause: SyscallError, options: XdpOptions): string | undefined {
  const kernel = cause instanceof NetlinkError && cause.extack ? `kernel: ${cause.extack}` : undefined;
  // EBUSY is XDP_FLAGS_UPDATE_IF_NOEXIST meeting a program; EEXIST (a program in the other mode) the kernel explains
  if (cause.errno === constants.errno.EBUSY && !options.replace) {
    return `${kernel ? `${kernel}; ` : ''}the interface already has an XDP program: detach it, or pass replace: true`;
  }
  if (cause.errno === errno.EOPNOTSUPP && options.mode === 'drv') {
    return `${kernel ? `${kernel}; ` : ''}the driver has no native XDP: use mode 'skb' (generic XDP)`;
  }
  return kernel ?? cause.hint;
}

/** Remove whatever XDP program an interface has (`ip link set dev IF xdp off`). */
export function detachXdp(ifname: string | number, mode?: XdpOptions['mode']): void {
  const ifindex = typeof ifname === 'number' ? ifname : ifNameToIndex(ifname);
  setLinkXdpFd(ifindex, -1, mode ? MODE_FLAGS[mode] : 0);
}
