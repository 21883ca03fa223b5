import { SignalWatch } from './signals.js';

/**
 * What a CLI bundle's entry does: watch SIGINT and SIGTERM before the rest of
 * the CLI is loaded (a signal during start-up then ends the command cleanly
 * instead of by the default action), load and run the command, and set the
 * exit status. A promise chain, not top-level await: the bundles are
 * CommonJS, which has none.
 */
export function runEntry(command: (argv: string[], signals: SignalWatch) => Promise<number>): void {
  const signals = new SignalWatch();
  void command(process.argv.slice(2), signals).then((status) => {
    process.exitCode = status;
  });
}
