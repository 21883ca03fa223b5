export * from './commands.js';
export * from './uapi.js';
export { BpfFd, openBpfFdCount, openBpfFds } from './fd.js';
export { SyscallError } from './errors.js';
export { errnoName, errno } from './errno.js';
export { sysBpf, overrideBpfSyscall, realBpf, type BpfSyscall, addressOf, attr, ATTR_SIZE } from './native.js';
