// The kernel's numbers and layouts, each written once. A leaf: nothing here imports anything outside uapi/.
export * from './commands.js';
export * from './bpf.js';
export * from './btf.js';
export * from './opcodes.js';
export * from './names.js';
export * from './layout.js';
export * from './attrs.js';
export * from './info.js';
export * from './perf.js';
export * from './rings.js';
export * from './netlink.js';
export * from './errno.js';
export * from './sockets.js';
export * from './libc.js';
