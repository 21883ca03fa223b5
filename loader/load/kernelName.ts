import { BPF_OBJ_NAME_LEN } from '../../syscall/index.js';

/** The kernel keeps 15 characters of [A-Za-z0-9_.]; anything else makes BPF_MAP_CREATE and BPF_PROG_LOAD fail with EINVAL. */
export function kernelObjectName(name: string): string {
  if (name.length < BPF_OBJ_NAME_LEN && KEPT.test(name)) return name;
  return name.replace(/[^A-Za-z0-9_.]/g, '_').slice(0, BPF_OBJ_NAME_LEN - 1);
}

const KEPT = /^[A-Za-z0-9_.]*$/;
