import { attr, sysBpf } from './native.js';
import { SyscallError } from './errors.js';
import { commandName } from './uapi.js';

/**
 * Run a bpf(2) command whose attr the caller filled in the shared `attr`
 * buffer; -errno becomes a SyscallError naming the command (and `detail`).
 */
export function bpfCommand(cmd: number, size: number, detail?: string): number {
  const ret = sysBpf(cmd, attr, size);
  if (ret < 0) throw new SyscallError(commandName(cmd), -ret, detail);
  return ret;
}
