const STOP_SIGNALS = ['SIGINT', 'SIGTERM'] as const;

/**
 * Run a synchronous step that must not be cut in half (a load that pins)
 * in a process that left SIGINT/SIGTERM at their default action, which would
 * end it wherever it stands. While the step runs, such a signal is only
 * noted (JavaScript handlers run between turns of the event loop, never
 * inside synchronous code); once it is done the signal is raised again with
 * the default action back, so the process still ends by it, after the step.
 * A process with handlers of its own gets the signal in them, as always.
 */
export function deferStopSignals<T>(step: () => T): T {
  const installed: [NodeJS.Signals, () => void][] = [];
  const release = (): void => {
    for (const [signal, listener] of installed.splice(0)) process.off(signal, listener);
  };
  for (const signal of STOP_SIGNALS) {
    if (process.listenerCount(signal) > 0) continue;
    const listener = (): void => {
      release();
      process.kill(process.pid, signal);
    };
    process.on(signal, listener);
    installed.push([signal, listener]);
  }
  try {
    return step();
  } finally {
    // a signal that arrived during the step is read by the event loop before this runs
    if (installed.length) setImmediate(release);
  }
}
