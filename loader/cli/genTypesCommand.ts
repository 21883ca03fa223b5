import { baseOptions, checkWith, listOption, type CliArgs, type CliCommand } from './command.js';
import type { GenTypesArgs } from './genTypes.js';

/** --type '' (or ',') would otherwise ask for no record type and succeed without one. */
function checkTypes(args: CliArgs): string | undefined {
  return Array.isArray(args['type']) && args['type'].length === 0 ? "--type needs a type name ('event', 'struct event'), not an empty list" : undefined;
}

/** `load-kern-object gen-types OBJ`: the object's typed skeleton, a TypeScript module from its BTF. */
export const genTypesCommand: CliCommand = {
  name: 'gen-types',
  command: 'gen-types <file>',
  describe: "write a TypeScript module typing the object's maps, variables and programs from its BTF",
  usage:
    '$0 gen-types FILE [-o OUT.ts] [--type NAME]…\n\nWrite a TypeScript module from the object\'s BTF (build it with -g): the key and ' +
      'value types of its maps, its global variables, its program names and the sha256 of FILE, with a load() that ' +
      'gives them typed and refuses an object that changed since; --type NAME adds a record type (records.NAME.decode()) ' +
      'for what a program sends through a ring buffer or perf event array. Needs no privileges; makes no system call.',
  builder: (yargs) =>
    yargs
      .positional('file', { type: 'string', describe: 'the object file (built with -g)' })
      .options({
        output: { alias: 'o', type: 'string', describe: 'write the module to this file instead of standard output' },
        'import-from': { type: 'string', default: 'bpf-load', describe: 'where the module imports bpf-load from' },
        type: {
          type: 'string', requiresArg: true, coerce: listOption,
          describe: "types of the object's BTF to decode records as: event or 'struct event' gives records.event (--type a,b; or repeat --type)",
        },
        verbose: baseOptions('').verbose!,
      })
      // --type '' (or ',') would otherwise ask for no record type and succeed without one
      .check((args) => checkWith(checkTypes)(args as CliArgs))
      .example('$0 gen-types fixtures/modern/maps_btf.bpf.o -o src/maps_btf.skel.ts', 'the skeleton, beside the code that uses it')
      .example('$0 gen-types bootstrap.bpf.o --type event -o src/bootstrap.skel.ts', "with records.event, the ring buffer's struct event"),
  run: async (args, context) => (await import('./genTypes.js')).runGenTypes(args as unknown as GenTypesArgs, context),
};
