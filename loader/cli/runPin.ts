import { SignalWatch } from './signals.js';

// run.ts for `dump` and `unpin` alone: the signal watch first, then the rest
const signals = new SignalWatch();
void import('./pinMain.js')
  .then(({ pinMain }) => pinMain(process.argv.slice(2), signals))
  .then((status) => {
    process.exitCode = status;
  });
