export { Attachment, type AttachKind, type AttachVia, type ProgramRef } from './attachment.js';
export { attachSocketFilter, openRawPacketSocket, PacketSocket, type SocketRef } from './socket.js';
export { attachXdp, detachXdp, type XdpOptions } from './xdp.js';
export { attachTracepoint, attachRawTracepoint, tracefsRoot, type PerfAttachOptions } from './tracing.js';
export {
  attachKprobe, attachKprobeMulti, attachKsyscall, kprobeSupport, syscallFunctionName, type KprobeMultiOptions, type KprobeOptions,
} from './kprobe.js';
export {
  attachUprobe, attachUprobeMulti, resolveBinaryPath, type UprobeMultiOptions, type UprobeOptions,
} from './uprobe.js';
export { attachUsdt, type UsdtOptions } from './usdt.js';
export { findCgroup2 } from './cgroupMount.js';
export { attachCgroup, type CgroupAttachType, type CgroupOptions } from './cgroup.js';
export { attachFromSection, attachAutomatic } from './auto.js';
export { attachTc, type TcDirection, type TcOptions } from './tc.js';
export { attachPerfEvent, type PerfEventOptions } from './perfEvent.js';
export { attachBtfProgram, openIterator, readIterator, type BtfAttachOptions } from './btfLinks.js';
