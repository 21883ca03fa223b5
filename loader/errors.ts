import { SyscallError, errnoName } from '../syscall/index.js';

const BRAND = Symbol.for('bpf-load.error');

export interface LoadErrorContext {
  file?: string;
  section?: string;
  map?: { index: number; name: string };
  program?: string;
  /** what was being done, e.g. `BPF_MAP_CREATE`, `relocate`, `pin` */
  action?: string;
}

/**
 * A load step that failed, with where it happened. Wraps the layer error
 * (ElfError, SyscallError) as `cause`; errno name and hint are lifted so a
 * caller can branch on `err.errnoName === 'EPERM'` without walking causes.
 */
export class LoadError extends Error {
  readonly [BRAND] = true;
  readonly code: string = 'BPF_LOAD_LOAD';
  readonly file: string | undefined;
  readonly section: string | undefined;
  readonly map: { index: number; name: string } | undefined;
  readonly program: string | undefined;
  readonly errno: number | undefined;
  readonly errnoName: string | undefined;
  readonly hint: string | undefined;

  /**
   * `options.errno`: the kernel's answer when it came without a failed syscall
   * (e.g. EOPNOTSUPP for a feature the running kernel lacks), so callers and
   * the CLI's exit status treat it as a refusal by the kernel, not bad input.
   */
  constructor(message: string, context: LoadErrorContext, options: { cause?: unknown; hint?: string; errno?: number } = {}) {
    const cause = describeCause(options);
    const where: string[] = [];
    if (context.file) where.push(context.file);
    if (context.section) where.push(`sec '${context.section}'`);
    if (context.map) where.push(`map '${context.map.name}' (#${context.map.index})`);
    if (context.program) where.push(`prog '${context.program}'`);
    super(`${[...where, message].join(': ')}${cause.suffix}`, { cause: options.cause });
    this.name = 'LoadError';
    this.file = context.file;
    this.section = context.section;
    this.map = context.map;
    this.program = context.program;
    this.errno = cause.errno;
    this.errnoName = cause.errnoName;
    this.hint = cause.hint;
  }
}

/**
 * What every loader-level error takes from its cause: a SyscallError's
 * command, errno name and hint (an explicit hint wins), as the message's tail
 * `: BPF_MAP_CREATE: EINVAL (hint)`.
 */
export function describeCause(options: { cause?: unknown; hint?: string; errno?: number }): {
  suffix: string;
  errno: number | undefined;
  errnoName: string | undefined;
  hint: string | undefined;
} {
  const syscall = options.cause instanceof SyscallError ? options.cause : undefined;
  const hint = options.hint ?? syscall?.hint;
  const errno = syscall?.errno ?? options.errno;
  return {
    suffix: `${syscall ? `: ${syscall.command}: ${syscall.errnoName}` : ''}${hint ? ` (${hint})` : ''}`,
    errno,
    errnoName: syscall?.errnoName ?? (errno === undefined ? undefined : errnoName(errno)),
    hint,
  };
}

/** True for every error bpf-load throws on purpose (ElfError, SyscallError, LoadError and their kin). */
export function isBpfLoadError(error: unknown): error is Error & { code: string } {
  return typeof error === 'object' && error !== null && (error as Record<symbol, unknown>)[BRAND] === true;
}
