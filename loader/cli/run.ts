import { runEntry } from './entry.js';
import { main } from './main.js';

// the CLI's entry: what the bundle (dist/load-kern-object.cjs) starts from
runEntry((argv) => main(argv));
