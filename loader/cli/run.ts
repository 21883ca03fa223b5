import { runEntry } from './entry.js';

// the CLI's entry: what the bundle (dist/load-kern-object.cjs) starts from
runEntry((argv, signals) => import('./main.js').then(({ main }) => main(argv, undefined, signals)));
