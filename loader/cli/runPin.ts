import { runEntry } from './entry.js';

// `dump` and `unpin` alone: the pin bundle's entry
runEntry((argv, signals) => import('./pinMain.js').then(({ pinMain }) => pinMain(argv, signals)));
