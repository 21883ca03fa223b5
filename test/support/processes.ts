import { spawn, spawnSync, type ChildProcess, type SpawnSyncReturns } from 'node:child_process';
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
    // 'close', not 'exit': at 'exit' the last of its output may still be in the pipes, and tests read it next
    child.once('close', (code, signal) => {
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

/**
 * Polls `condition` until it holds, for what the kernel or another process
 * does in its own time (softirq, RCU, a child's start-up). Throws when it
 * still does not hold after `timeoutMs`, naming `what` was awaited;
 * `what` may be a function, so the message can say how things stood then.
 */
export async function waitUntil(what: string | (() => string), condition: () => boolean, timeoutMs = 5000, intervalMs = 20): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${typeof what === 'string' ? what : what()}`);
    await sleep(intervalMs);
  }
}

/**
 * How a child runs without privileges: 'nobody' is uid/gid 65534 with no
 * supplementary groups (spawn drops them when it sets the uid), so file modes
 * apply to it; 'no-capabilities' stays root but with every capability dropped
 * by setpriv (requireTool 'setpriv'), so bpf(2) is EPERM whatever the sysctls,
 * and files stay readable wherever the checkout is.
 */
export type Unprivileged = 'nobody' | 'no-capabilities';

const DROP_ALL_CAPABILITIES = ['--bounding-set=-all', '--inh-caps=-all', '--ambient-caps=-all', '--'];

/** `node args…` run as `as`, to completion. */
export function runNodeUnprivileged(
  as: Unprivileged,
  args: string[],
  options: { cwd: string; env?: NodeJS.ProcessEnv; timeoutMs?: number },
): SpawnSyncReturns<string> {
  const spawnOptions = { cwd: options.cwd, encoding: 'utf8' as const, timeout: options.timeoutMs ?? 30_000, ...(options.env ? { env: options.env } : {}) };
  return as === 'nobody'
    ? spawnSync(process.execPath, args, { ...spawnOptions, uid: 65534, gid: 65534 })
    : spawnSync('setpriv', [...DROP_ALL_CAPABILITIES, process.execPath, ...args], spawnOptions);
}
