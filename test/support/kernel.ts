import { readdirSync, readFileSync } from 'node:fs';
import { BPF_MAP_TYPE, SyscallError, mapCreate } from '../../syscall/index.js';

let probed: string | undefined | null = null;

/** Why real bpf(2) cannot be used here, or undefined when it can. Probed once with a 1-entry array map. */
function kernelUnavailableReason(): string | undefined {
  if (probed !== null) return probed;
  try {
    mapCreate({ map_type: BPF_MAP_TYPE.ARRAY, key_size: 4, value_size: 4, max_entries: 1, map_flags: 0 }).close();
    probed = undefined;
  } catch (error) {
    probed =
      error instanceof SyscallError
        ? `BPF_MAP_CREATE -> ${error.errnoName} (${error.errnoName === 'EPERM' ? 'not root / no CAP_BPF' : error.hint ?? 'no bpf()'})`
        : String(error);
  }
  return probed;
}

const required = process.env['BPF_LOAD_REQUIRE_KERNEL'] === '1';
const announced = new Set<string>();

/**
 * Call in a mocha `before(function () { requireKernel(this) })`: skips the
 * suite with one loud line when bpf(2) is unusable, or fails it when
 * BPF_LOAD_REQUIRE_KERNEL=1 (CI), where a skip would hide untested code.
 */
export function requireKernel(context: Mocha.Context): void {
  const reason = kernelUnavailableReason();
  if (reason === undefined) return;
  if (required) throw new Error(`kernel tests are required (BPF_LOAD_REQUIRE_KERNEL=1) but ${reason}`);
  const suite = context.test?.parent?.fullTitle() ?? 'kernel tests';
  if (!announced.has(suite)) {
    announced.add(suite);
    console.warn(`SKIP ${suite}: ${reason}`);
  }
  context.skip();
}

/** Open fds of this process, to prove a refused load closed what it opened. */
export function processFdCount(): number {
  return readdirSync('/proc/self/fd').length;
}

/** What /proc/self/fdinfo says about a bpf map fd (an independent view from BPF_OBJ_GET_INFO_BY_FD). */
export function fdinfo(fd: number): Record<string, string> {
  const fields: Record<string, string> = {};
  for (const line of readFileSync(`/proc/self/fdinfo/${fd}`, 'utf8').split('\n')) {
    const match = /^([a-z_]+):\s*(.*)$/.exec(line);
    if (match) fields[match[1]!] = match[2]!;
  }
  return fields;
}
