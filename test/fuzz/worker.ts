import { Worker, isMainThread, parentPort, workerData } from 'node:worker_threads';
import { fuzz, fuzzFixtures, HANG_MS, type FuzzFailure, type FuzzReport } from './harness.js';
import { mutantSeed } from './mutate.js';

/**
 * The fuzz loop runs in a worker so a mutant that loops forever can be
 * caught: the per-mutant time check in runMutant only runs once the mutant
 * returns, and a synchronous loop never lets a timer fire in its own thread.
 * The main thread watches a shared progress counter and terminates the worker
 * when it stops moving.
 */
interface Job {
  seed: number;
  perFixture: number;
  kernel: boolean;
  progress: SharedArrayBuffer;
  tcBpffs: string | undefined;
}

type Message = { failure: FuzzFailure } | { report: FuzzReport };

if (!isMainThread && parentPort && (workerData as { fuzzJob?: Job })?.fuzzJob) {
  const job = (workerData as { fuzzJob: Job }).fuzzJob;
  const port = parentPort;
  const report = fuzz(
    job.seed,
    job.perFixture,
    job.kernel,
    (failure) => port.postMessage({ failure } satisfies Message),
    new Int32Array(job.progress),
    job.tcBpffs,
  );
  port.postMessage({ report } satisfies Message);
}

/** Run `fuzz()` in a worker with a watchdog; a hang becomes a failure naming the mutant, not a stuck process. */
export function fuzzWithWatchdog(
  seed: number,
  perFixture: number,
  kernel: boolean,
  onFailure?: (f: FuzzFailure) => void,
  tcBpffs?: string,
): Promise<FuzzReport> {
  const progress = new SharedArrayBuffer(3 * Int32Array.BYTES_PER_ELEMENT);
  const view = new Int32Array(progress);
  // bpf fds are not opened through node:fs, so closing them in a worker draws a 'closed but not opened in
  // unmanaged mode' warning per fd: noise here (reported: BpfFd could close through libc instead)
  const worker = new Worker(new URL(import.meta.url), { execArgv: ['--no-warnings'], workerData: { fuzzJob: { seed, perFixture, kernel, progress, tcBpffs } satisfies Job } });
  const failures: FuzzFailure[] = [];
  return new Promise<FuzzReport>((resolve, reject) => {
    let lastCount = -1;
    let lastMove = Date.now();
    const watchdog = setInterval(() => {
      const count = Atomics.load(view, 0);
      if (count !== lastCount) {
        lastCount = count;
        lastMove = Date.now();
        return;
      }
      if (Date.now() - lastMove < 2 * HANG_MS) return;
      clearInterval(watchdog);
      const fixture = fuzzFixtures()[Atomics.load(view, 1)]!.name;
      const n = Atomics.load(view, 2);
      const hang: FuzzFailure = {
        fixture,
        seed: mutantSeed(seed, fixture, n),
        steps: [`mutant ${n} of ${fixture}`],
        problem: `no progress for ${2 * HANG_MS} ms: the worker was stuck in this mutant and was terminated`,
      };
      onFailure?.(hang);
      void worker.terminate().then(() =>
        resolve({ mutants: count, outcomes: { 'refused-elf': 0, parsed: 0, loaded: 0, 'refused-kernel': 0, 'refused-loader': 0 }, failures: [...failures, hang] }),
      );
    }, 250);
    worker.on('message', (message: Message) => {
      if ('failure' in message) {
        failures.push(message.failure);
        onFailure?.(message.failure);
      } else {
        clearInterval(watchdog);
        // resolve once the thread is gone: its own fds (event loop, pipes) count in /proc/self/fd until then
        worker.once('exit', () => resolve(message.report));
      }
    });
    worker.on('error', (error) => {
      clearInterval(watchdog);
      reject(error);
    });
  });
}
