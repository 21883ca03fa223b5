import { baseOptions, type CliCommand } from './command.js';
import type { GenTypesArgs } from './genTypes.js';

/** `load-kern-object gen-types OBJ`: the object's typed skeleton, a TypeScript module from its BTF. */
export const genTypesCommand: CliCommand = {
  name: 'gen-types',
  command: 'gen-types <file>',
  describe: "write a TypeScript module typing the object's maps, variables and programs from its BTF",
  usage:
    '$0 gen-types FILE [-o OUT.ts]\n\nWrite a TypeScript module from the object\'s BTF (build it with -g): the key and ' +
      'value types of its maps, its global variables, its program names and the sha256 of FILE, with a load() that ' +
      'gives them typed and refuses an object that changed since. Needs no privileges; makes no system call.',
  builder: (yargs) =>
    yargs
      .positional('file', { type: 'string', describe: 'the object file (built with -g)' })
      .options({
        output: { alias: 'o', type: 'string', describe: 'write the module to this file instead of standard output' },
        'import-from': { type: 'string', default: 'bpf-load', describe: 'where the module imports bpf-load from' },
        verbose: baseOptions('').verbose!,
      })
      .example('$0 gen-types fixtures/modern/maps_btf.bpf.o -o src/maps_btf.skel.ts', 'the skeleton, beside the code that uses it'),
  run: async (args, context) => (await import('./genTypes.js')).runGenTypes(args as unknown as GenTypesArgs, context),
};
