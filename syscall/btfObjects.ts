import { bpfCommand } from './bpfCommand.js';
import { btfInfo, getIdAttr } from './attrCodecs.js';
import { attr, addressOf } from './native.js';
import { objGetInfoByFd } from './commands.js';
import { SyscallError } from './errors.js';
import { errno } from './errno.js';
import { BPF_BTF_GET_NEXT_ID } from '../uapi/commands.js';

/** The kernel's BTF objects, walked by id, and their bytes: what module BTF discovery and freplace targets need. */

/** BPF_BTF_GET_NEXT_ID: the id of the first BTF object after `startId` (0: the first of all); undefined past the last. */
export function btfGetNextId(startId: number): number | undefined {
  const size = getIdAttr.encode(attr, { id: startId });
  try {
    bpfCommand(BPF_BTF_GET_NEXT_ID, size, `(BTF after id ${startId})`);
  } catch (error) {
    if (error instanceof SyscallError && error.errno === errno.ENOENT) return undefined;
    throw error;
  }
  return getIdAttr.get(attr, 'next_id');
}

/**
 * The bytes of a BTF object (what BPF_BTF_LOAD was given, or a kernel BTF as /sys/kernel/btf
 * shows it) through BPF_OBJ_GET_INFO_BY_FD: its size first, then the bytes.
 */
export function btfGetData(fd: number): Uint8Array {
  const first = btfInfo.alloc();
  objGetInfoByFd(fd, first);
  const size = btfInfo.get(first, 'btf_size');
  const data = Buffer.alloc(size);
  const info = btfInfo.alloc({ btf: addressOf(data), btf_size: size });
  objGetInfoByFd(fd, info);
  const written = btfInfo.get(info, 'btf_size');
  if (written !== size) {
    throw new SyscallError('BPF_OBJ_GET_INFO_BY_FD', errno.EAGAIN, `(BTF fd ${fd}: ${size} bytes, then ${written}: it changed between two reads)`);
  }
  return new Uint8Array(data.buffer, data.byteOffset, size);
}
