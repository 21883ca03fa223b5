// The kernel side of module BTF: a kfunc or typed ksym that lives in a module
// is named to the kernel by (BTF id, fd of the module's BTF object). The fd
// comes from walking BPF_BTF_GET_NEXT_ID / BPF_BTF_GET_FD_BY_ID and matching
// each BTF object's name (BPF_OBJ_GET_INFO_BY_FD) to the module; that walk is
// syscall work, so it plugs in here.

import { LoadError } from '../errors.js';

/**
 * Opens the BTF object of a kernel module: returns an fd the caller owns (to put in the
 * program's fd_array for a kfunc, or in the second half of an ld_imm64 for a typed ksym).
 */
export type ModuleBtfFdOpener = (module: string) => number;

/** The opener used until the syscall layer provides BTF id walks: refuses, naming what is missing. */
export const moduleBtfFdUnavailable: ModuleBtfFdOpener = (module) => {
  throw new LoadError(`module '${module}' holds a kfunc or ksym this object uses, and opening a module's BTF object is not supported yet`, {}, {
    code: 'BPF_LOAD_SYSTEM',
    hint: 'module BTF fds need BPF_BTF_GET_NEXT_ID and BPF_BTF_GET_FD_BY_ID',
  });
};
