
export interface ElfErrorContext {
  /** the file name the caller gave, for messages */
  file?: string;
  section?: string;
  map?: string;
  program?: string;
}

/**
 * The object file is not what the samples/bpf convention expects. Pure data:
 * no errno here. Its `code` is one of the loader's error codes, so
 * `isBpfLoadError()` knows it without elf/ importing anything.
 */
export class ElfError extends Error {
  /**
   * BPF_LOAD_ARGUMENT: the caller passed something that is not bytes or options at all;
   * BPF_LOAD_BTF: the object's (or the kernel's) BTF is malformed (BtfError)
   */
  readonly code: 'BPF_LOAD_ELF' | 'BPF_LOAD_ARGUMENT' | 'BPF_LOAD_BTF';
  readonly file: string | undefined;
  readonly section: string | undefined;

  constructor(message: string, context: ElfErrorContext = {}, options?: ErrorOptions & { code?: 'BPF_LOAD_ARGUMENT' | 'BPF_LOAD_BTF' }) {
    super(formatElfMessage(message, context), options);
    this.code = options?.code ?? 'BPF_LOAD_ELF';
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
