import { lstatSync, mkdirSync, readdirSync, rmdirSync, statSync, statfsSync, unlinkSync } from 'node:fs';
import { constants as osConstants } from 'node:os';
import { basename, dirname, join, resolve, sep } from 'node:path';
import { BPF_F_RDONLY, BPF_F_WRONLY, BpfFd, SyscallError, errno, objGet, objPin } from '../../syscall/index.js';
import { LoadError, checkString, type LoadErrorContext } from '../errors.js';
import { BPF_FS_MAGIC } from '../../uapi/bpf.js';
import { FS_MAGIC_NAMES } from '../../uapi/libc.js';

/** statfs(2) f_type of a bpf filesystem (include/uapi/linux/magic.h). */
export { BPF_FS_MAGIC };
/** Where systemd, bpftool and tc expect bpffs. */
export const DEFAULT_BPFFS = '/sys/fs/bpf';

function fsName(type: number): string {
  return FS_MAGIC_NAMES[type] ?? `filesystem type 0x${type.toString(16)}`;
}

/** The path itself, or its closest ancestor that exists: the one whose filesystem a new entry would land on. */
export function nearestExisting(path: string): string {
  let current = resolve(path);
  for (;;) {
    try {
      lstatSync(current);
      return current;
    } catch {
      const parent = dirname(current);
      if (parent === current) return current;
      current = parent;
    }
  }
}

export function fsTypeOf(path: string): number {
  return Number(statfsSync(path).type) >>> 0;
}

export function isBpffs(path: string): boolean {
  try {
    return fsTypeOf(path) === BPF_FS_MAGIC;
  } catch {
    return false;
  }
}

function isInside(path: string, directory: string): boolean {
  return path === directory || path.startsWith(directory.endsWith(sep) ? directory : directory + sep);
}

/**
 * Make sure `directory` (existing or about to be created) is on bpffs. Like
 * bpftool, mount bpffs at /sys/fs/bpf when something is to be pinned there and
 * nothing is mounted; anywhere else, refuse and say how to mount one.
 */
export function ensureOnBpffs(directory: string, context: LoadErrorContext = {}): void {
  const target = resolve(directory);
  if (pathExists(target) && !statSync(target).isDirectory()) {
    throw new LoadError(`pin directory '${target}' is a file, not a directory`, context, {
      hint: `name a directory under ${DEFAULT_BPFFS} (it is made when missing)`,
    });
  }
  if (isInside(target, DEFAULT_BPFFS) && !isBpffs(DEFAULT_BPFFS)) mountBpffs(DEFAULT_BPFFS, context);
  const existing = nearestExisting(target);
  let type: number;
  try {
    type = fsTypeOf(existing);
  } catch (cause) {
    throw new LoadError(`cannot statfs '${existing}': ${(cause as Error).message}`, context, { cause });
  }
  if (type !== BPF_FS_MAGIC) {
    throw new LoadError(
      `pin directory '${target}' is not on a bpf filesystem ('${existing}' is on ${fsName(type)})`,
      context,
      {
        // a bpffs mounted over an existing directory (the project, /tmp) would hide what is in it: suggest that only for a new one
        hint: existing === target
          ? `pins live only in bpffs: use a directory under ${DEFAULT_BPFFS} (mounting bpffs over '${target}' would hide what is in it)`
          : `pins live only in bpffs: use a directory under ${DEFAULT_BPFFS}, or mount one: mkdir -p ${target} && mount -t bpf bpf ${target}`,
      },
    );
  }
}

/** mount -t bpf bpf DIR, as bpftool and tc do when nothing is mounted (mode 0700, like systemd's). */
export function mountBpffs(mountPoint: string, context: LoadErrorContext = {}): void {
  try {
    // loaded here, not at start-up: child_process costs ~15 ms to load and only mounting needs it
    const { execFileSync } = process.getBuiltinModule('node:child_process');
    execFileSync('mount', ['-t', 'bpf', '-o', 'mode=0700', 'bpf', mountPoint], { stdio: ['ignore', 'ignore', 'pipe'] });
  } catch (cause) {
    const stderr = String((cause as { stderr?: Buffer }).stderr ?? '').trim();
    throw new LoadError(
      `no bpf filesystem is mounted at ${mountPoint} and mounting one failed${stderr ? `: ${stderr}` : ''}`,
      context,
      { cause, hint: `mounting needs CAP_SYS_ADMIN; as root run: mount -t bpf bpf ${mountPoint}` },
    );
  }
  if (!isBpffs(mountPoint)) {
    throw new LoadError(`mounted bpffs at ${mountPoint} but statfs does not see it there`, context);
  }
}

/**
 * bpffs refuses to look up names containing '.' (reserved for the kernel's own
 * preloaded entries since Linux 5.10), so such a pin could never be created.
 */
export function checkPinComponent(name: string, what: string, context: LoadErrorContext): void {
  if (name === '' || name.includes('/')) throw new LoadError(`${what} '${name}' is not a valid file name`, context);
  if (name.includes('.')) {
    throw new LoadError(`${what} '${name}' contains '.', which bpffs refuses in pin paths`, context, {
      hint: 'choose a name without dots',
    });
  }
}

/** A pin name for an object's map or program: dots (static locals such as `func.map`) become '_'. */
export function pinNameFor(name: string): string {
  return name.replace(/[./]/g, '_');
}

/** The directories mkdir -p would make, outermost first, after checking bpffs would take their names. */
export function checkCreatable(directory: string, context: LoadErrorContext): string[] {
  const missing: string[] = [];
  for (let current = resolve(directory); !pathExists(current); ) {
    missing.unshift(current);
    const parent = dirname(current);
    if (parent === current) break;
    current = parent;
  }
  for (const path of missing) checkPinComponent(basename(path), 'directory', context);
  return missing;
}

/**
 * mkdir -p that reports what it made, so a failed load can remove exactly
 * those directories. Components that do not exist yet may not contain '.'.
 */
export function makeDirectories(directory: string, context: LoadErrorContext): string[] {
  const missing = checkCreatable(directory, context);
  const made: string[] = [];
  for (const path of missing) {
    try {
      mkdirSync(path, { mode: 0o700 });
      made.push(path);
    } catch (cause) {
      // another loader made it since we looked (two tc loads making tc/globals): it is there, which is all we need
      if ((cause as NodeJS.ErrnoException).code === 'EEXIST') continue;
      removeEmptyDirectories(made);
      throw new LoadError(`cannot create directory '${path}': ${(cause as NodeJS.ErrnoException).code ?? cause}`, context, {
        cause,
      });
    }
  }
  return made;
}

/** rmdir the given directories, deepest first, leaving any that are not empty. */
export function removeEmptyDirectories(directories: readonly string[]): void {
  for (const directory of [...directories].sort((a, b) => b.length - a.length)) {
    try {
      rmdirSync(directory);
    } catch {
      // not empty (someone else pinned there) or already gone: leave it
    }
  }
}

/**
 * Whether something is at `path`. A path this user may not look into is
 * not "nothing there": it is an error naming the folder (bpffs folders are
 * often mode 0700), never a quiet false.
 */
export function pathExists(path: string): boolean {
  try {
    lstatSync(path);
    return true;
  } catch (cause) {
    const code = (cause as NodeJS.ErrnoException).code;
    // bpffs answers EPERM for a name with '.', which therefore is not there either
    if (code !== 'EACCES' && code !== 'ELOOP') return false;
    const errno = code === undefined ? undefined : (osConstants.errno as Record<string, number>)[code];
    throw new LoadError(`cannot look at '${path}': ${code ?? (cause as Error).message}`, {}, {
      cause,
      ...(errno === undefined ? {} : { errno }),
      ...(code === 'EACCES' ? { hint: `this user may not search ${dirname(path)} or a folder above it (bpffs folders are often mode 0700): run as root` } : {}),
      ...(code === 'ELOOP' ? { hint: 'too many levels of symbolic links in the path (a link loop?)' } : {}),
    });
  }
}

/** BPF_OBJ_PIN with messages that say what to do about the usual failures. */
export function pinFd(fd: number, path: string, context: LoadErrorContext): void {
  try {
    objPin(fd, path);
  } catch (cause) {
    throw new LoadError(`cannot pin at '${path}'`, context, {
      cause, hint: pinFailureHint(cause, path, 'remove it, or load with force (--force) to replace it'),
    });
  }
}

/**
 * Why BPF_OBJ_PIN failed, in words a user can act on. `whenTaken` says what
 * to do about a path that is already pinned, in the caller's terms.
 */
export function pinFailureHint(cause: unknown, path: string, whenTaken: string): string | undefined {
  if (!(cause instanceof SyscallError)) return undefined;
  switch (cause.errno) {
    case errno.EEXIST:
      return `something is already pinned there: ${whenTaken}`;
    case errno.ENOENT:
      return `the directory ${dirname(path)} does not exist: create it on a bpf filesystem first`;
    case errno.EPERM:
      return `${dirname(path)} must be on a bpf filesystem (mount -t bpf bpf DIR) and the name must not contain '.'; pinning needs root or CAP_BPF`;
    case errno.EACCES:
      return `no write permission in ${dirname(path)}`;
    default:
      return undefined;
  }
}

/** BPF_OBJ_GET with messages for a missing path or a path that is not a pinned object. */
export function openPinned(path: string, context: LoadErrorContext, fileFlags = 0): BpfFd {
  try {
    return objGet(path, fileFlags);
  } catch (cause) {
    throw new LoadError(`cannot open pinned object '${path}'`, context, { cause, hint: openPinFailureHint(cause, path, fileFlags) });
  }
}

/** Why BPF_OBJ_GET failed, in words a user can act on. */
export function openPinFailureHint(cause: unknown, path: string, fileFlags = 0): string | undefined {
  if (!(cause instanceof SyscallError)) return undefined;
  switch (cause.errno) {
    case errno.ENOENT:
      return 'nothing is pinned at that path';
    case errno.EINVAL:
      return 'the pinned object is a link, which opens only read-write';
    case errno.EACCES:
    case errno.EPERM: {
      // BPF_OBJ_GET says EACCES both for a file mode that denies the access and for anything that is not a pin
      if (!isBpffs(nearestExisting(path))) return 'the path is not on a bpf filesystem: pins live on bpffs (/sys/fs/bpf)';
      const access = fileFlags === BPF_F_RDONLY ? 'reading' : fileFlags === BPF_F_WRONLY ? 'writing' : 'reading and writing';
      return `not a pinned object (a directory?), or its file mode does not allow ${access}`;
    }
    default:
      return undefined;
  }
}

/** Remove a pin; a pin that is already gone is not an error. */
export function unpinPath(path: string): void {
  try {
    unlinkSync(path);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
  }
}

export interface UnpinResult {
  removed: string[];
  removedDirectories: string[];
  /** entries left in place, with why */
  kept: string[];
}

/**
 * Undo `--pin DIR`: remove DIR/maps/*, DIR/progs/* and then the directories
 * that are left empty. Anything else in DIR is left alone.
 */
export function unpinDirectory(directory: string): UnpinResult {
  checkString(directory, 'directory', 'unpinDirectory');
  const root = resolve(directory);
  const context = {};
  if (!pathExists(root)) throw new LoadError(`'${root}' does not exist`, context);
  if (!isBpffs(root)) {
    throw new LoadError(`'${root}' is not on a bpf filesystem: nothing there was pinned by bpf-load`, context);
  }
  const result: UnpinResult = { removed: [], removedDirectories: [], kept: [] };
  for (const sub of ['maps', 'progs']) {
    const subdirectory = join(root, sub);
    if (!pathExists(subdirectory)) continue;
    for (const entry of readdirSync(subdirectory, { withFileTypes: true }).sort((a, b) => a.name.localeCompare(b.name))) {
      const path = join(subdirectory, entry.name);
      if (entry.isDirectory()) {
        result.kept.push(`${path} (a directory, not a pin)`);
        continue;
      }
      try {
        unlinkSync(path);
        result.removed.push(path);
      } catch (cause) {
        throw new LoadError(`cannot remove pin '${path}': ${(cause as NodeJS.ErrnoException).code}`, context, { cause });
      }
    }
    if (tryRmdir(subdirectory)) result.removedDirectories.push(subdirectory);
    else result.kept.push(`${subdirectory} (not empty)`);
  }
  if (tryRmdir(root)) result.removedDirectories.push(root);
  else result.kept.push(`${root} (not empty)`);
  return result;
}

function tryRmdir(path: string): boolean {
  try {
    rmdirSync(path);
    return true;
  } catch {
    return false;
  }
}
