import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';

/** The compiled CLI next to these compiled tests. */
export const CLI = fileURLToPath(new URL('../../loader/cli/bin.cjs', import.meta.url));
/** The compiled public API, for child scripts. */
export const PUBLIC_API = fileURLToPath(new URL('../../loader/index.js', import.meta.url));

export interface Running {
  child: ChildProcess;
  stdout(): string;
  stderr(): string;
  /** resolves with the exit status (or 128 + signal number when it died of a signal) */
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  /** resolves once stdout or stderr has matched */
  waitFor(pattern: RegExp, timeoutMs?: number): Promise<void>;
}

/** A node process with its output collected, for tests that signal it. */
export function startNode(args: string[]): Running {
  const child = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  const watchers: (() => void)[] = [];
  child.stdout!.on('data', (chunk: Buffer) => {
    out += chunk.toString();
    watchers.forEach((w) => w());
  });
  child.stderr!.on('data', (chunk: Buffer) => {
    err += chunk.toString();
    watchers.forEach((w) => w());
  });
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => {
    child.once('exit', (code, signal) => {
      watchers.forEach((w) => w());
      resolve({ code, signal });
    });
  });
  return {
    child,
    stdout: () => out,
    stderr: () => err,
    exited,
    waitFor: (pattern, timeoutMs = 15000) =>
      new Promise<void>((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`no ${pattern} within ${timeoutMs} ms; stdout: ${out}; stderr: ${err}`)), timeoutMs);
        const check = (): void => {
          if (pattern.test(out) || pattern.test(err)) {
            clearTimeout(timer);
            resolve();
          } else if (child.exitCode !== null || child.signalCode !== null) {
            clearTimeout(timer);
            reject(new Error(`exited (${child.exitCode ?? child.signalCode}) before ${pattern}; stdout: ${out}; stderr: ${err}`));
          }
        };
        watchers.push(check);
        check();
      }),
  };
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
