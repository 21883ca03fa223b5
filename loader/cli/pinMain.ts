import { runPinSubcommand } from './pinCommands.js';
import { guardRealOutput, realIo } from './realIo.js';
import type { SignalWatch } from './signals.js';

/**
 * `dump PIN` and `unpin DIR` by themselves, as main() runs them: what the
 * pin bundle runs, without the modules of the load command (the loader, tc,
 * events), which `dump` would otherwise read, compile and initialise at
 * every start.
 */
export async function pinMain(argv: string[], signals: SignalWatch): Promise<number> {
  try {
    guardRealOutput();
    return await runPinSubcommand(argv, realIo, signals);
  } finally {
    signals.dispose();
  }
}
