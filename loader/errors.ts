import { ElfError } from '../elf/index.js';
import { ClosedFdError, MalformedMapSet, SyscallError, errnoName } from '../syscall/index.js';

/**
 * Every `code` a bpf-load error can carry, with the category that decides
 * what a caller (and the CLI's exit status) makes of it:
 * - `input`: the object file, an argument or an option is wrong; fix the input (exit 2);
 * - `kernel`: the kernel or the system refused or lacks something (exit 1).
 * Anything thrown that is not one of these is a bug in bpf-load (exit 70).
 */
export const ERROR_CATEGORIES = {
  /** the object file is not a BPF object bpf-load can read (ElfError) */
  BPF_LOAD_ELF: 'input',
  /** BTF (the object's .BTF/.BTF.ext, or a kernel or module BTF) that is malformed (BtfError, an ElfError) */
  BPF_LOAD_BTF: 'input',
  /** what the object, the options or the files named asks for cannot be done, found before asking the kernel */
  BPF_LOAD_INPUT: 'input',
  /** an argument of a function or an option of the CLI has the wrong type or value */
  BPF_LOAD_ARGUMENT: 'input',
  /** a file descriptor used after its owner closed it (ClosedFdError) */
  BPF_LOAD_FD_CLOSED: 'input',
  /** a system call failed (SyscallError, NetlinkError) */
  BPF_LOAD_SYSCALL: 'kernel',
  /** this kernel lacks what was asked for, as a probe confirmed (NotSupportedError: "needs Linux >= N") */
  BPF_LOAD_NOT_SUPPORTED: 'kernel',
  /** a load step the kernel refused (LoadError caused by a SyscallError) */
  BPF_LOAD_KERNEL: 'kernel',
  /** the system lacks what bpf-load needs and cannot be told by an errno (a /sys file it cannot read…) */
  BPF_LOAD_SYSTEM: 'kernel',
  /** waited for another process (the sender of receiveMaps) longer than the caller allowed */
  BPF_LOAD_TIMEOUT: 'kernel',
  /** the verifier (or the kernel) refused a program (ProgramLoadError; the log is on `.verifierLog`) */
  BPF_LOAD_PROG: 'kernel',
  /** an operation on a live map the kernel refused (MapError) */
  BPF_LOAD_MAP: 'kernel',
  /** an operation on a map that was closed */
  BPF_LOAD_MAP_CLOSED: 'input',
  /** a key or value that its codec cannot encode */
  BPF_LOAD_MAP_ENCODE: 'input',
  /** update with BPF_NOEXIST of a key that exists */
  BPF_LOAD_MAP_KEY_EXISTS: 'kernel',
  /** update with BPF_EXIST, or delete, of a key that does not exist */
  BPF_LOAD_MAP_KEY_MISSING: 'kernel',
  /** an fd or pin that is not a map where a map was asked for */
  BPF_LOAD_MAP_NOT_A_MAP: 'input',
  /** unpin(path) of a path that does not pin this map */
  BPF_LOAD_MAP_NOT_PINNED_HERE: 'input',
  /** a walk of a map type that has no keys to walk (queue, stack, ring buffer…) */
  BPF_LOAD_MAP_NOT_WALKABLE: 'input',
  /** a key or value of the wrong size for the map */
  BPF_LOAD_MAP_SIZE: 'input',
  /** a walk that could not go on (the map kept changing under it) */
  BPF_LOAD_MAP_WALK_ABORTED: 'kernel',
} as const satisfies Record<`BPF_LOAD_${string}`, ErrorCategory>;

export type ErrorCategory = 'input' | 'kernel';
/** The `code` of every error bpf-load throws on purpose. */
export type BpfLoadErrorCode = keyof typeof ERROR_CATEGORIES;

/** Fields every bpf-load error has, whichever layer raised it. */
export interface BpfLoadErrorShape extends Error {
  readonly code: BpfLoadErrorCode;
}

/** True for every error bpf-load throws on purpose (ElfError, SyscallError, LoadError and its kin). */
export function isBpfLoadError(error: unknown): error is BpfLoadErrorShape {
  if (!(error instanceof Error)) return false;
  const code: unknown = (error as { code?: unknown }).code;
  return typeof code === 'string' && Object.hasOwn(ERROR_CATEGORIES, code);
}

/** What the error says about whose move it is; undefined for an error that is not bpf-load's (a bug). */
export function errorCategory(error: unknown): ErrorCategory | undefined {
  return isBpfLoadError(error) ? ERROR_CATEGORIES[error.code] : undefined;
}

// a type-level check that the layers' own codes are in the table
type LayerCodes = ElfError['code'] | SyscallError['code'] | ClosedFdError['code'] | MalformedMapSet['code'];
const layerCodesKnown: LayerCodes extends BpfLoadErrorCode ? true : never = true;
void layerCodesKnown;

export interface LoadErrorContext {
  file?: string | undefined;
  section?: string | undefined;
  /** index -1: a map that did not come from an object (opened by pin, fd or id) */
  map?: { index: number; name: string } | undefined;
  program?: string | undefined;
}

export interface LoadErrorOptions {
  cause?: unknown;
  hint?: string | undefined;
  /** the kernel's answer when it came without a failed syscall (EOPNOTSUPP for a feature the kernel lacks) */
  errno?: number;
  code?: BpfLoadErrorCode;
}

/**
 * A step that failed, with where it happened: file, section, map, program.
 * Wraps the layer error (ElfError, SyscallError) as `cause`; the errno name
 * and hint are lifted from the whole cause chain, so a caller can branch on
 * `err.errnoName === 'EPERM'` without walking causes.
 */
export class LoadError extends Error {
  readonly code: BpfLoadErrorCode;
  readonly file: string | undefined;
  readonly section: string | undefined;
  readonly map: { index: number; name: string } | undefined;
  readonly program: string | undefined;
  readonly errno: number | undefined;
  readonly errnoName: string | undefined;
  readonly hint: string | undefined;

  constructor(message: string, context: LoadErrorContext, options: LoadErrorOptions = {}) {
    const cause = describeCause(options);
    super(`${[...where(context), message].join(': ')}${cause.suffix}`, { cause: options.cause });
    this.name = 'LoadError';
    this.code = options.code ?? (cause.notSupported ? 'BPF_LOAD_NOT_SUPPORTED' : cause.errno === undefined ? 'BPF_LOAD_INPUT' : 'BPF_LOAD_KERNEL');
    this.file = context.file;
    this.section = context.section;
    this.map = context.map;
    this.program = context.program;
    this.errno = cause.errno;
    this.errnoName = cause.errnoName;
    this.hint = cause.hint;
  }
}

function where(context: LoadErrorContext): string[] {
  const parts: string[] = [];
  if (context.file) parts.push(context.file);
  if (context.section) parts.push(`sec '${context.section}'`);
  if (context.map) parts.push(`map '${context.map.name}'${context.map.index >= 0 ? ` (#${context.map.index})` : ''}`);
  if (context.program) parts.push(`prog '${context.program}'`);
  return parts;
}

/**
 * An operation on a live map that failed or was refused: names the map, what
 * was being done and, where it matters, the key.
 */
export class MapError extends LoadError {
  constructor(map: string | { index: number; name: string }, message: string, options: LoadErrorOptions = {}) {
    const named = typeof map === 'string' ? { index: -1, name: map } : map;
    super(message, { map: named }, { ...options, code: options.code ?? 'BPF_LOAD_MAP' });
    this.name = 'MapError';
  }
}

/** Lines of the verifier log shown in the message; the whole log is on `.verifierLog`. */
const LOG_TAIL_LINES = 3;

/**
 * The kernel refused a program. The message ends with the last lines of the
 * verifier log (where the reason is); `verifierLog` holds all of it.
 */
export class ProgramLoadError extends LoadError {
  readonly verifierLog: string;

  constructor(message: string, context: LoadErrorContext, options: { cause: unknown; hint?: string | undefined; verifierLog: string }) {
    super(message, context, { cause: options.cause, hint: options.hint, ...(describeCause(options).notSupported ? {} : { code: 'BPF_LOAD_PROG' as const }) });
    this.name = 'ProgramLoadError';
    this.verifierLog = options.verifierLog;
    const tail = logTail(options.verifierLog, LOG_TAIL_LINES);
    if (tail) {
      const omitted = tail.omitted ? ` (last ${LOG_TAIL_LINES} of ${tail.omitted + LOG_TAIL_LINES} lines; all of it on .verifierLog)` : '';
      this.message = `${this.message}\nverifier log${omitted}:\n${tail.text}`;
    }
  }
}

/** The last `lines` non-empty-trailing lines of a verifier log, indented, and how many were left out. */
export function logTail(log: string, lines: number): { text: string; omitted: number } | undefined {
  const all = log.split('\n');
  while (all.length && all[all.length - 1] === '') all.pop();
  if (all.length === 0) return undefined;
  const shown = all.slice(-lines);
  return { text: shown.map((line) => `  ${line}`).join('\n'), omitted: all.length - shown.length };
}

/**
 * What an error takes from its causes: the first SyscallError down the whole
 * chain gives the command, errno name and hint (an explicit hint wins), as
 * the message's tail `: BPF_MAP_CREATE: EINVAL (hint)`. A cause that is a
 * bpf-load error already carrying an errno passes it on.
 */
export function describeCause(options: { cause?: unknown; hint?: string | undefined; errno?: number }): {
  suffix: string;
  errno: number | undefined;
  errnoName: string | undefined;
  hint: string | undefined;
  /** the kernel lacks a feature (a NotSupportedError down the chain) */
  notSupported: boolean;
} {
  const syscall = findCause(options.cause, (e): e is SyscallError => e instanceof SyscallError);
  const inherited = syscall ? undefined : findCause(options.cause, (e): e is LoadError => e instanceof LoadError && e.errno !== undefined);
  // a kernel that lacks the feature outranks any guess at the cause
  const notSupported = syscall?.code === 'BPF_LOAD_NOT_SUPPORTED' || inherited?.code === 'BPF_LOAD_NOT_SUPPORTED';
  const hint = notSupported && syscall
    ? `${syscall.hint}${options.hint ? `: ${options.hint}` : ''}`
    : options.hint ?? syscall?.hint ?? inherited?.hint;
  const errno = syscall?.errno ?? inherited?.errno ?? options.errno;
  return {
    suffix: `${syscall ? `: ${syscall.command}: ${syscall.errnoName}` : ''}${hint && !inherited ? ` (${hint})` : ''}`,
    errno,
    errnoName: syscall?.errnoName ?? inherited?.errnoName ?? (errno === undefined ? undefined : errnoName(errno)),
    hint,
    notSupported,
  };
}

function findCause<T>(cause: unknown, match: (error: unknown) => error is T): T | undefined {
  const seen = new Set<unknown>();
  for (let current = cause; current !== undefined && current !== null && !seen.has(current); ) {
    if (match(current)) return current;
    seen.add(current);
    current = (current as { cause?: unknown }).cause;
  }
  return undefined;
}

/** How a value looks in a message about an argument: short, and never a throw of its own. */
export function describeValue(value: unknown): string {
  if (value === null) return 'null';
  if (typeof value === 'string') return value.length > 40 ? `'${value.slice(0, 40)}…'` : `'${value}'`;
  if (typeof value === 'bigint') return `${value}n`;
  if (typeof value === 'number' || typeof value === 'boolean' || value === undefined) return String(value);
  if (typeof value === 'function') return 'a function';
  if (Array.isArray(value)) return `an array of ${value.length}`;
  if (value instanceof Uint8Array) return `${value.byteLength} bytes`;
  return `an object (${Object.prototype.toString.call(value).slice(8, -1)})`;
}

/** A bad argument of a public function or an option: names the function, the argument, what it takes and what it got. */
export function argumentError(where: string, name: string, expected: string, value: unknown, hint?: string): LoadError {
  return new LoadError(`${where}: ${name} must be ${expected}, not ${describeValue(value)}`, {}, {
    code: 'BPF_LOAD_ARGUMENT',
    ...(hint === undefined ? {} : { hint }),
  });
}

export function checkString(value: unknown, name: string, where: string, options: { empty?: boolean } = {}): asserts value is string {
  if (typeof value !== 'string' || (!options.empty && value === '')) {
    throw argumentError(where, name, options.empty ? 'a string' : 'a non-empty string', value);
  }
}

export function checkInteger(value: unknown, name: string, where: string, min: number, max: number): asserts value is number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > max) {
    throw argumentError(where, name, `an integer from ${min} to ${max}`, value);
  }
}

/** An optional flag: undefined, or true or false (not 1, 'yes' or another truthy stand-in). */
export function checkBoolean(value: unknown, name: string, where: string): asserts value is boolean | undefined {
  if (value !== undefined && typeof value !== 'boolean') throw argumentError(where, name, 'a boolean', value);
}

/** An options argument: undefined, or a plain object whose keys are all known (a misspelt option is not silently ignored). */
export function checkOptions(value: unknown, known: readonly string[], where: string, name = 'options'): void {
  if (value === undefined) return;
  if (value === null || typeof value !== 'object' || Array.isArray(value)) throw argumentError(where, name, 'an object', value);
  const unknown = Object.keys(value).filter((key) => !known.includes(key));
  if (unknown.length) {
    throw new LoadError(`${where}: unknown ${name} ${unknown.map((k) => `'${k}'`).join(', ')} (known: ${known.join(', ')})`, {}, {
      code: 'BPF_LOAD_ARGUMENT',
    });
  }
}

export function checkOneOf<T extends string>(value: unknown, allowed: readonly T[], name: string, where: string): asserts value is T | undefined {
  if (value !== undefined && !(allowed as readonly unknown[]).includes(value)) {
    throw argumentError(where, name, `one of ${allowed.map((a) => `'${a}'`).join(', ')}`, value);
  }
}
