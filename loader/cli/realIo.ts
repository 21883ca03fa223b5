import { EXIT_KERNEL, type CliIo } from './common.js';
import { writeWithBackpressure } from './output.js';

/** The process's own stdout and stderr, as every command writes to them. */
export const realIo: CliIo = {
  out: (text) => process.stdout.write(text.endsWith('\n') ? text : `${text}\n`),
  err: (text) => process.stderr.write(text.endsWith('\n') ? text : `${text}\n`),
  write: (text) => writeWithBackpressure(process.stdout, text),
  onOutputClosed: (listener) => {
    if (process.stdout.destroyed) return listener();
    const once = (): void => {
      process.stdout.off('error', once);
      process.stdout.off('close', once);
      listener();
    };
    process.stdout.on('error', once);
    process.stdout.on('close', once);
  },
};

/**
 * A failed write to stdout (a full disk, a closed pipe) is emitted as an
 * 'error' event that would crash the process with a stack: make it one line
 * and exit status 1 instead. A reader that closed the pipe (| head) chose to
 * stop reading, so EPIPE is silent.
 */
export function guardRealOutput(): void {
  for (const stream of [process.stdout, process.stderr]) {
    if (stream.listenerCount('error') > 0) continue;
    stream.on('error', (error: NodeJS.ErrnoException) => {
      if (error.code !== 'EPIPE' && stream === process.stdout) {
        process.stderr.write(`load-kern-object: cannot write the output: ${error.code ?? error.message}\n`);
      }
      process.exitCode = EXIT_KERNEL;
    });
  }
}
