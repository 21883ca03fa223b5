export * from './commands.js';
export * from './progCommands.js';
export * from './links.js';
export * from './net.js';
export * from './perf.js';
export * from './netlink.js';
export { MapElementOps, MapBatchOps, ELEM_ATTR_SIZE, BATCH_ATTR_SIZE } from './mapOps.js';
export { OwnedSlots } from './ownedSlots.js';
export { StructCodec, HOST_LITTLE_ENDIAN, wordIndex, wordIndexes, type FieldValue, type StructValues } from './structCodec.js';
export * from './uapi.js';
export { BpfFd, fdKind, openBpfFdCount, openBpfFds } from './fd.js';
export { ClosedFdError, NotSupportedError, SyscallError } from './errors.js';
export {
  FEATURES, haveFeature, haveMapType, haveProgType, featureInfo, mapTypeFeature, progTypeFeature, explainRefusal, notSupported,
  forgetProbes, isProbing, btfBlob, type Feature, type FeatureName,
} from './probes.js';
export { errnoName, errno } from './errno.js';
export { overrideBpfSyscall, type BpfSyscall } from './native.js';
export { withSignalsBlocked } from './signalMask.js';
export * from './tcNetlink.js';
export * from './unixSocket.js';
export * from './rings.js';
export { mmapShared, pageSize, PROT_READ, PROT_WRITE, type MappedRegion } from './mmap.js';
export {
  epollCreate, epollCtl, epollWaitAsync, EpollEvents, eventfdCreate, eventfdSignal, eventfdDrain, EPOLL_CTL_ADD, EPOLL_CTL_DEL,
  EPOLL_CTL_MOD, EPOLLIN, EPOLLONESHOT,
} from './epoll.js';
export * from './mapSetMessage.js';
export * from './btfObjects.js';
