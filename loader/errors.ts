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
    const syscall = options.cause instanceof SyscallError ? options.cause : undefined;
    const hint = options.hint ?? syscall?.hint;
    const where: string[] = [];
    if (context.file) where.push(context.file);
    if (context.section) where.push(`sec '${context.section}'`);
    if (context.map) where.push(`map '${context.map.name}' (#${context.map.index})`);
    if (context.program) where.push(`prog '${context.program}'`);
    const errnoPart = syscall ? `: ${syscall.command}: ${syscall.errnoName}` : '';
    super(`${[...where, message].join(': ')}${errnoPart}${hint ? ` (${hint})` : ''}`, { cause: options.cause });
    this.name = 'LoadError';
    this.file = context.file;
    this.section = context.section;
    this.map = context.map;
    this.program = context.program;
    this.errno = syscall?.errno ?? options.errno;
    this.errnoName = syscall?.errnoName ?? (options.errno === undefined ? undefined : errnoName(options.errno));
    this.hint = hint;
  }
}

/** True for every error bpf-load throws on purpose (ElfError, SyscallError, LoadError and their kin). */
export function isBpfLoadError(error: unknown): error is Error & { code: string } {
  return typeof error === 'object' && error !== null && (error as Record<symbol, unknown>)[BRAND] === true;
}
