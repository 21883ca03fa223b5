import { BPF_OBJ_NAME_LEN } from '../../syscall/index.js';

/**
 * The kernel keeps 15 characters of [A-Za-z0-9_.]; anything else makes BPF_MAP_CREATE and BPF_PROG_LOAD fail with EINVAL.
 * Nearly every name is kept as it is, which a loop says with less code to run cold than a regular expression.
 */
export function kernelObjectName(name: string): string {
  let kept = name.length < BPF_OBJ_NAME_LEN;
  for (let i = 0; kept && i < name.length; i++) {
    const c = name.charCodeAt(i);
    kept = (c >= 0x61 && c <= 0x7a) || (c >= 0x41 && c <= 0x5a) || (c >= 0x30 && c <= 0x39) || c === 0x5f || c === 0x2e;
  }
  if (kept) return name;
  return name.replace(/[^A-Za-z0-9_.]/g, '_').slice(0, BPF_OBJ_NAME_LEN - 1);
}
