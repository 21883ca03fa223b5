import { bpfCommand } from './bpfCommand.js';
import { getIdAttr } from './attrCodecs.js';
import { attr } from './native.js';
import { SyscallError } from './errors.js';
import { errno } from './errno.js';
import { BPF_BTF_GET_NEXT_ID } from '../uapi/commands.js';

/** The kernel's BTF objects, walked by id: what module BTF discovery needs (their bytes: btfGetData). */

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
