import { SignalWatch } from './signals.js';

// before the rest of the CLI is loaded: a signal during start-up then ends the command cleanly instead of by the default action
const signals = new SignalWatch();
// a promise chain, not top-level await: the bundle is CommonJS, which has none
void import('./main.js')
  .then(({ main }) => main(process.argv.slice(2), undefined, signals))
  .then((status) => {
    process.exitCode = status;
  });
