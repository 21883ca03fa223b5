// The ring layouts are the kernel's: they live in uapi/.
export * from '../uapi/rings.js';
