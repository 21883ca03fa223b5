import { ElfError, type ElfErrorContext } from '../errors.js';

export interface BtfErrorContext extends ElfErrorContext {
  /** the type the reader was at, for `BTF type [id]` in the message */
  typeId?: number;
}

/**
 * Malformed BTF: a `.BTF`/`.BTF.ext` section, a kernel's or a module's BTF.
 * An ElfError (so everything that handles a bad object handles it) whose
 * code is BPF_LOAD_BTF and whose message names the type id when there is one.
 */
export class BtfError extends ElfError {
  readonly typeId: number | undefined;

  constructor(message: string, context: BtfErrorContext = {}, options?: ErrorOptions) {
    super(context.typeId === undefined ? `BTF: ${message}` : `BTF type [${context.typeId}]: ${message}`, context, {
      ...options,
      code: 'BPF_LOAD_BTF',
    });
    this.name = 'BtfError';
    this.typeId = context.typeId;
  }
}
