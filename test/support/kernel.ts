import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { release } from 'node:os';
import { join } from 'node:path';
import { BPF_MAP_TYPE, FEATURES, SyscallError, haveFeature, mapCreate } from '../../syscall/index.js';
import { tracefsRoot } from '../../loader/attach/tracing.js';

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
 * The one gate every conditional test goes through, in a mocha
 * `before(function () { ... })` or at the top of an `it(function () { ... })`.
 * `missing` says why the feature is unavailable here (undefined: it is there).
 * Skips with one loud line, or fails under BPF_LOAD_REQUIRE_KERNEL=1 (CI),
 * where a skip would hide untested code.
 */
export function requireFeature(context: Mocha.Context, feature: string, missing: string | undefined): void {
  if (missing === undefined) return;
  if (required) throw new Error(`${feature} is required (BPF_LOAD_REQUIRE_KERNEL=1) but ${missing}`);
  const where = context.currentTest?.fullTitle() ?? context.test?.parent?.fullTitle() ?? context.test?.fullTitle() ?? 'tests';
  const line = `SKIP ${where}: needs ${feature}: ${missing}`;
  if (!announced.has(line)) {
    announced.add(line);
    console.warn(line);
  }
  context.skip();
}

/** Real bpf(2), probed once with a 1-entry array map. */
export function requireKernel(context: Mocha.Context): void {
  requireFeature(context, 'bpf(2)', kernelUnavailableReason());
}

/** A command on PATH (bpftool, clang, tc, cc…), which scripts/preflight.sh installs where it can. */
export function requireTool(context: Mocha.Context, tool: string): void {
  requireFeature(context, tool, toolOnPath(tool) ? undefined : `'${tool}' is not on PATH (run: bash scripts/preflight.sh)`);
}

/** Root, for what no capability set short of it allows here (namespaces, mounts, other users). */
export function requireRoot(context: Mocha.Context): void {
  requireFeature(context, 'root', process.getuid?.() === 0 ? undefined : 'this is not root');
}

/** tracefs, mounted at /sys/kernel/tracing first when it is not (as CI's preflight does). */
export function requireTracefs(context: Mocha.Context): void {
  if (!tracefsRoot() && process.getuid?.() === 0) spawnSync('mount', ['-t', 'tracefs', 'nodev', '/sys/kernel/tracing']);
  requireFeature(context, 'tracefs', tracefsRoot() ? undefined : 'tracefs is not mounted and cannot be mounted here');
}

function toolOnPath(tool: string): boolean {
  for (const directory of (process.env['PATH'] ?? '').split(':')) {
    if (directory && existsSync(join(directory, tool))) return true;
  }
  return false;
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

/** Why this kernel has no TCX hook (for requireFeature), or undefined: asked of the kernel by the TCX link probe. */
export function tcxMissing(): string | undefined {
  try {
    return haveFeature('tcxLink') ? undefined : `the kernel (${release()}) has no TCX links (needs Linux >= ${FEATURES.tcxLink.minLinux})`;
  } catch (error) {
    return `the TCX probe was refused: ${error instanceof Error ? error.message : String(error)}`;
  }
}
