import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { DEFAULT_BPFFS, isBpffs, mountBpffs } from '../../loader/bpffs/bpffs.js';

/**
 * A fresh directory on the real bpffs for one test, so parallel runs and
 * leftovers never meet. Mounts bpffs at /sys/fs/bpf first if needed.
 */
export function freshPinRoot(label: string): string {
  if (!isBpffs(DEFAULT_BPFFS)) mountBpffs(DEFAULT_BPFFS);
  // bpffs refuses '.' in names; mkdtemp's suffix is alphanumeric
  return mkdtempSync(join(DEFAULT_BPFFS, `bpf_load_test_${label.replace(/[^A-Za-z0-9_]/g, '_')}_`));
}

/** rm -r on bpffs: unlinking a pin releases the object. */
export function removePinRoot(directory: string | undefined): void {
  if (directory) rmSync(directory, { recursive: true, force: true });
}

/** Every path below `directory`, relative and sorted: what a load left on bpffs. */
export function listTree(directory: string): string[] {
  const out: string[] = [];
  const walk = (dir: string, prefix: string): void => {
    let entries;
    try {
      entries = readdirSync(dir, { withFileTypes: true });
    } catch {
      return;
    }
    for (const entry of entries) {
      const relative = prefix ? `${prefix}/${entry.name}` : entry.name;
      out.push(entry.isDirectory() ? `${relative}/` : relative);
      if (entry.isDirectory()) walk(join(dir, entry.name), relative);
    }
  };
  walk(directory, '');
  return out.sort();
}
