import type { CliIo } from '../../loader/cli/main.js';

/** A CliIo that keeps what was written; `onOut` runs while the CLI still holds its maps. */
export function captureIo(onOut?: (text: string) => void): CliIo & { stdout: string; stderr: string } {
  const io = {
    stdout: '',
    stderr: '',
    out(text: string) {
      io.stdout += text.endsWith('\n') ? text : `${text}\n`;
      onOut?.(text);
    },
    err(text: string) {
      io.stderr += text.endsWith('\n') ? text : `${text}\n`;
    },
  };
  return io;
}
