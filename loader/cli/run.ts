import { SignalWatch } from './signals.js';

// before the rest of the CLI is loaded: a signal during start-up then ends the command cleanly instead of by the default action
const signals = new SignalWatch();
const { main } = await import('./main.js');
process.exitCode = await main(process.argv.slice(2), undefined, signals);
