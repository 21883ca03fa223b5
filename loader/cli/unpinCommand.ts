import { baseOptions, type CliCommand } from './command.js';
import type { UnpinArgs } from './pinCommands.js';

/** `load-kern-object unpin PATH…`: remove what a load pinned. */
export const unpinCommand: CliCommand = {
  name: 'unpin',
  command: 'unpin <paths..>',
  describe: 'remove what --pin DIR pinned, or pins named one by one (what --convention tc leaves)',
  usage:
    '$0 unpin DIR | PIN…\n\nRemove what `load-kern-object FILE --pin DIR` pinned: DIR/maps/*, DIR/progs/*, then the ' +
      'directories left empty. A path that is a pin (a map tc pinned in /sys/fs/bpf/tc/globals) is removed by itself; ' +
      'a bpffs directory without maps/ and progs/ is left alone.',
  builder: (yargs) =>
    yargs
      .positional('paths', { type: 'string', array: true, describe: 'a --pin directory, or pins' })
      .options(baseOptions('print one JSON object')),
  run: async (args, context) => (await import('./pinCommands.js')).runUnpin(args as unknown as UnpinArgs, context),
};
