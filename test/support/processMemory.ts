import { closeSync, openSync, readSync, writeSync } from 'node:fs';

/**
 * This process's memory at an address, through /proc/self/mem: what a fake bpf(2) needs to read
 * what an attr's pointers point at (instructions, fd_array) and to write back what the kernel
 * would (a bpf_*_info, a BTF object's bytes, a name).
 */

function withMemory<T>(body: (fd: number) => T): T {
  const fd = openSync('/proc/self/mem', 'r+');
  try {
    return body(fd);
  } finally {
    closeSync(fd);
  }
}

export function readMemory(address: bigint, size: number): Buffer {
  const out = Buffer.alloc(size);
  if (size > 0) withMemory((fd) => readSync(fd, out, 0, size, Number(address)));
  return out;
}

export function writeMemory(address: bigint, bytes: Uint8Array): void {
  if (bytes.byteLength > 0) withMemory((fd) => writeSync(fd, bytes, 0, bytes.byteLength, Number(address)));
}
