import { readdirSync, readlinkSync, statSync, unlinkSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { DEFAULT_BPFFS, isBpffs, pathExists, unpinDirectory } from '../bpffs/bpffs.js';
import { EXIT_OK } from './common.js';
import type { CliContext } from './command.js';
import { LoadError } from '../errors.js';
import type { LoadOptions } from '../options.js';
import type { BpfObject } from '../load/bpfObject.js';
import type { LoadArgs } from './loadOptions.js';

/**
 * The pinning side of load-kern-object: what `--pin DIR`, `--force`,
 * `--reuse-pinned`, `--bpffs` ask of a load, what it says of the pins it
 * leaves, and the `unpin PATH…` command (`dump PIN` is dump.ts).
 */

/** The LoadOptions the pinning flags ask for. */
export function pinLoadOptions(args: Pick<LoadArgs, 'pin' | 'force' | 'reusePinned' | 'bpffs'>): Pick<LoadOptions, 'pinDir' | 'force' | 'reusePinned' | 'bpffs'> {
  return {
    ...(args.pin !== undefined ? { pinDir: args.pin } : {}),
    ...(args.force ? { force: true } : {}),
    ...(args.reusePinned ? { reusePinned: true } : {}),
    ...(args.bpffs !== undefined ? { bpffs: args.bpffs } : {}),
  };
}

/** What the load command adds to its output when it pinned: where, and that the pins stay. */
export function pinNote(args: Pick<LoadArgs, 'pin'>): string | undefined {
  if (args.pin === undefined) return undefined;
  const dir = resolve(args.pin);
  return `pinned in ${dir} (maps/, progs/): they stay after this command exits; remove them with: load-kern-object unpin ${dir}`;
}

/**
 * The maps the tc convention pinned (PIN_GLOBAL_NS, PIN_OBJECT_NS): they
 * stay after the command as they do after tc, so say where and how to
 * remove them. Undefined when nothing was pinned that way.
 */
export function tcPinNote(object: BpfObject, args: Pick<LoadArgs, 'pin' | 'convention'>): string | undefined {
  if (args.convention !== 'tc' || args.pin !== undefined) return undefined;
  const pins = object.maps.map((map) => map.pinPath).filter((path): path is string => path !== undefined);
  if (pins.length === 0) return undefined;
  return `pinned by the tc convention: ${pins.join(', ')}: they stay after this command exits (other tc objects share ` +
    `them by name); remove them with: load-kern-object unpin ${pins.join(' ')}`;
}

/** The id of a mount namespace (`mnt:[4026531841]`), or undefined when it cannot be read. */
function mountNamespace(pid: string): string | undefined {
  try {
    return readlinkSync(`/proc/${pid}/ns/mnt`);
  } catch {
    return undefined;
  }
}

/**
 * --pin under /sys/fs/bpf where no bpffs is mounted, in a mount namespace
 * made for this command (`ip netns exec` makes one per command and mounts
 * /sys afresh in it; so does `unshare -m`): the load would mount a bpffs in
 * it, and that bpffs, with the pins, would vanish when the command exits.
 * Refuse instead of promising pins that do not last. Made for this command:
 * its parent (or, where the parent cannot be read, init) is elsewhere.
 */
export function checkPersistentBpffs(pinDir: string): void {
  const target = resolve(pinDir);
  if (!(target === DEFAULT_BPFFS || target.startsWith(`${DEFAULT_BPFFS}/`)) || isBpffs(DEFAULT_BPFFS)) return;
  const own = mountNamespace('self');
  const outside = mountNamespace(String(process.ppid)) ?? mountNamespace('1');
  if (own === undefined || outside === undefined || own === outside) return;
  throw new LoadError(
    `--pin ${target}: no bpf filesystem is mounted at ${DEFAULT_BPFFS} in this mount namespace, which was made for ` +
      'this command (as `ip netns exec` does, mounting /sys afresh): a bpffs mounted here, and the pins in it, would ' +
      'vanish when this command exits',
    {},
    {
      code: 'BPF_LOAD_SYSTEM',
      hint: 'pins belong to no network namespace: pin without ip netns exec (or nsenter -t 1 -m), or, for pins that ' +
        `end with this namespace, mount bpffs in it first: mount -t bpf bpf ${DEFAULT_BPFFS}`,
    },
  );
}

export interface UnpinArgs {
  paths: string[];
  json: boolean;
  verbose: boolean;
}

/**
 * `unpin PATH…`: a --pin directory (its maps/ and progs/, then the empty
 * directories), or pins named one by one (what the tc convention leaves).
 * Over in milliseconds, so it runs to its end whatever signal comes.
 */
export async function runUnpin(args: UnpinArgs, { io }: CliContext): Promise<number> {
  const result = { removed: [] as string[], removed_directories: [] as string[], kept: [] as string[] };
  for (const path of args.paths) unpinOne(resolve(path), result);
  if (args.json) {
    io.out(JSON.stringify(result, null, 2));
    return EXIT_OK;
  }
  const lines = [
    ...result.removed.map((path) => `unpinned ${path}`),
    ...result.removed_directories.map((path) => `removed directory ${path}`),
    ...result.kept.map((what) => `kept ${what}`),
  ];
  io.out(lines.length ? lines.join('\n') : `nothing pinned in ${args.paths.map((p) => resolve(p)).join(', ')}`);
  return EXIT_OK;
}

function unpinOne(path: string, result: { removed: string[]; removed_directories: string[]; kept: string[] }): void {
  if (pathExists(path) && !statSync(path).isDirectory()) {
    if (!isBpffs(dirname(path))) throw new LoadError(`'${path}' is not on a bpf filesystem, so it is no pin`, {});
    try {
      unlinkSync(path);
    } catch (cause) {
      throw new LoadError(`cannot remove pin '${path}': ${(cause as NodeJS.ErrnoException).code}`, {}, { cause });
    }
    result.removed.push(path);
    return;
  }
  const layout = ['maps', 'progs'].some((sub) => pathExists(join(path, sub)));
  if (pathExists(path) && isBpffs(path) && !layout) {
    // not what --pin makes (tc's globals, a bpftool pin directory): removing all of it could take what others use
    const entries = readdirSync(path).sort();
    if (entries.length > 0) {
      throw new LoadError(
        `'${path}' is not a --pin directory (it has no maps/ or progs/): it holds ${entries.length} pin(s) or directories, left alone`,
        {},
        { code: 'BPF_LOAD_ARGUMENT', hint: `name the pins to remove, e.g. load-kern-object unpin ${join(path, entries[0]!)}` },
      );
    }
  }
  const done = unpinDirectory(path);
  result.removed.push(...done.removed);
  result.removed_directories.push(...done.removedDirectories);
  result.kept.push(...done.kept.map((what) => what.replace(/ \(not empty\)$/, ' (not empty: it holds more than --pin put there)')));
}

const HEX = Array.from({ length: 256 }, (_, byte) => byte.toString(16).padStart(2, '0'));

export function spacedHex(bytes: Uint8Array): string {
  if (bytes.byteLength === 0) return '';
  let text = HEX[bytes[0]!]!;
  for (let i = 1; i < bytes.byteLength; i++) text += ` ${HEX[bytes[i]!]!}`;
  return text;
}
