/**
 * Errors raised while reading an object file. Pure data: no errno here, the
 * file was simply not what the bpf_load convention expects.
 *
 * Every bpf-load error class carries the same brand so `isBpfLoadError()` works
 * across layers without elf/ and syscall/ importing each other.
 */
export const BPF_LOAD_ERROR_BRAND: unique symbol = Symbol.for('bpf-load.error') as never;

export interface ElfErrorContext {
  /** the file name the caller gave, for messages */
  file?: string;
  section?: string;
  map?: string;
  program?: string;
}

export class ElfError extends Error {
  readonly [BPF_LOAD_ERROR_BRAND] = true;
  readonly code = 'BPF_LOAD_ELF';
  readonly file: string | undefined;
  readonly section: string | undefined;

  constructor(message: string, context: ElfErrorContext = {}, options?: ErrorOptions) {
    super(formatElfMessage(message, context), options);
    this.name = 'ElfError';
    this.file = context.file;
    this.section = context.section;
  }
}

function formatElfMessage(message: string, context: ElfErrorContext): string {
  const where: string[] = [];
  if (context.file !== undefined) where.push(context.file);
  if (context.section !== undefined) where.push(`sec '${context.section}'`);
  if (context.map !== undefined) where.push(`map '${context.map}'`);
  if (context.program !== undefined) where.push(`prog '${context.program}'`);
  return where.length ? `${where.join(': ')}: ${message}` : message;
}
