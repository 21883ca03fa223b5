// The kernel side of module BTF: a kfunc, typed ksym or BTF attach target that lives in a module
// is named to the kernel by (BTF id, fd of the module's BTF object). The kernel lists its BTF
// objects by id (BPF_BTF_GET_NEXT_ID); each one's info (BPF_OBJ_GET_INFO_BY_FD) says whether it
// is the kernel's (vmlinux, a module) or a program's, and its name; its bytes, split over
// vmlinux for a module, are what /sys/kernel/btf/<module> shows. Fds are held only for one
// BPF_PROG_LOAD: the kernel takes its own references to what a program uses.

import { BpfFd, SyscallError, btfGetFdById, btfGetInfo, btfGetNextId, errno } from '../../syscall/index.js';
import { LoadError } from '../errors.js';

/** A BTF object the kernel holds, as its info describes it. */
export interface KernelBtfObject {
  id: number;
  /** 'vmlinux', a module's name, or '' (a program's or map's BTF, loaded with BPF_BTF_LOAD) */
  name: string;
  /** the kernel's own BTF (vmlinux or a module), not one loaded from user space */
  kernelBtf: boolean;
  btfSize: number;
}

/**
 * Every BTF object the kernel holds, in id order (BPF_BTF_GET_NEXT_ID, then each opened by id
 * for its info and closed). An object freed between the two calls (ENOENT) is skipped.
 */
export function listBtfObjects(): KernelBtfObject[] {
  const objects: KernelBtfObject[] = [];
  for (let id = btfGetNextId(0); id !== undefined; id = btfGetNextId(id)) {
    const fd = openBtfById(id);
    if (!fd) continue;
    try {
      const info = btfGetInfo(fd.fd);
      objects.push({ id, name: info.name, kernelBtf: info.kernel_btf, btfSize: info.btf_size });
    } finally {
      fd.close();
    }
  }
  return objects;
}

/** The kernel's own BTF objects: vmlinux and each module that has BTF (libbpf's load_module_btfs walk). */
export function kernelBtfObjects(): KernelBtfObject[] {
  return listBtfObjects().filter((o) => o.kernelBtf);
}

function openBtfById(id: number): BpfFd | undefined {
  try {
    return btfGetFdById(id);
  } catch (error) {
    if (error instanceof SyscallError && error.errno === errno.ENOENT) return undefined;
    throw error;
  }
}

function moduleError(module: string, message: string, cause?: unknown): LoadError {
  return new LoadError(`module '${module}': ${message}`, {}, {
    code: 'BPF_LOAD_SYSTEM', ...(cause !== undefined ? { cause } : {}),
    hint: 'the module may have been unloaded since its BTF was read',
  });
}

/** Opens the BTF object of kernel module `module` (its fd the caller's); a LoadError when no module of that name has BTF loaded. */
export function openModuleBtf(module: string): BpfFd {
  for (let id = btfGetNextId(0); id !== undefined; id = btfGetNextId(id)) {
    const fd = openBtfById(id);
    if (!fd) continue;
    let info;
    try {
      info = btfGetInfo(fd.fd);
    } catch (error) {
      fd.close();
      throw moduleError(module, 'cannot read the info of a BTF object', error);
    }
    if (info.kernel_btf && info.name === module) return fd;
    fd.close();
  }
  throw moduleError(module, 'no BTF object of the kernel has this name');
}

/** Opens a module's BTF object: returns an fd the caller owns. */
export type ModuleBtfFdOpener = (module: string) => BpfFd;

/**
 * The fds one BPF_PROG_LOAD needs beyond the object's own: module BTF objects (for kfuncs in
 * fd_array, typed ksyms, attach targets), each opened once, and a freplace target program.
 * close() after the load; the kernel holds what the loaded program uses.
 */
export class ProgramLoadFds {
  readonly #opener: ModuleBtfFdOpener;
  readonly #modules = new Map<string, BpfFd>();
  readonly #others: BpfFd[] = [];

  constructor(opener: ModuleBtfFdOpener = openModuleBtf) {
    this.#opener = opener;
  }

  /** The fd of `module`'s BTF object, opened on first use. */
  moduleBtfFd(module: string): number {
    let fd = this.#modules.get(module);
    if (!fd) {
      fd = this.#opener(module);
      this.#modules.set(module, fd);
    }
    return fd.fd;
  }

  /** Keep `fd` open until close(). */
  hold(fd: BpfFd): number {
    this.#others.push(fd);
    return fd.fd;
  }

  /**
   * BPF_PROG_LOAD's fd_array for kfunc calls into modules: 32-bit fds at the slots `slots` gives
   * each module (slot 0, vmlinux's, left 0), in the host's byte order; undefined without slots.
   */
  fdArray(slots: ReadonlyMap<string, number>): Uint8Array | undefined {
    if (slots.size === 0) return undefined;
    const count = Math.max(...slots.values()) + 1;
    const array = new Int32Array(count);
    for (const [module, slot] of slots) array[slot] = this.moduleBtfFd(module);
    return new Uint8Array(array.buffer);
  }

  close(): void {
    for (const fd of [...this.#modules.values(), ...this.#others]) fd.close();
    this.#modules.clear();
    this.#others.length = 0;
  }
}
