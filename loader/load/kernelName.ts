import { BPF_OBJ_NAME_LEN } from '../../syscall/index.js';

/** The kernel keeps 15 characters of [A-Za-z0-9_.]; anything else makes BPF_MAP_CREATE and BPF_PROG_LOAD fail with EINVAL. */
export function kernelObjectName(name: string): string {
  if (keptAsIs(name)) return name;
  return name.replace(/[^A-Za-z0-9_.]/g, '_').slice(0, BPF_OBJ_NAME_LEN - 1);
}

/** A name the kernel takes unchanged (nearly every one): checked by a loop rather than a regular expression, which is more code to run cold. */
function keptAsIs(name: string): boolean {
  if (name.length >= BPF_OBJ_NAME_LEN) return false;
  for (let i = 0; i < name.length; i++) {
    const c = name.charCodeAt(i);
    const kept = (c >= 0x61 && c <= 0x7a) || (c >= 0x41 && c <= 0x5a) || (c >= 0x30 && c <= 0x39) || c === 0x5f || c === 0x2e;
    if (!kept) return false;
  }
  return true;
}
