import { LoadError, type LoadErrorContext } from './errors.js';

/** Lines of the verifier log shown in the message; the whole log is on `.verifierLog`. */
const LOG_TAIL_LINES = 20;

/**
 * The kernel refused a program. The message ends with the tail of the verifier
 * log (where the reason is); `verifierLog` holds all of it.
 */
export class ProgramLoadError extends LoadError {
  override readonly code: string = 'BPF_LOAD_PROG';
  readonly verifierLog: string;

  constructor(message: string, context: LoadErrorContext, options: { cause: unknown; hint?: string; verifierLog: string }) {
    super(message, context, options.hint === undefined ? { cause: options.cause } : { cause: options.cause, hint: options.hint });
    this.name = 'ProgramLoadError';
    this.verifierLog = options.verifierLog;
    const tail = logTail(options.verifierLog, LOG_TAIL_LINES);
    if (tail) this.message = `${this.message}\nverifier log${tail.truncated ? ` (last ${LOG_TAIL_LINES} lines; all of it on .verifierLog)` : ''}:\n${tail.text}`;
  }
}

export function logTail(log: string, lines: number): { text: string; truncated: boolean } | undefined {
  const all = log.split('\n').filter((line, i, array) => line !== '' || i < array.length - 1);
  while (all.length && all[all.length - 1] === '') all.pop();
  if (all.length === 0) return undefined;
  const shown = all.slice(-lines);
  return { text: shown.map((line) => `  ${line}`).join('\n'), truncated: all.length > lines };
}
