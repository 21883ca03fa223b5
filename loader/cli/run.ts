import { runEntry } from './entry.js';

runEntry((argv, signals) => import('./main.js').then(({ main }) => main(argv, undefined, signals)));
