import { writeFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { LoadError } from '../errors.js';
import { readObjectFileSync } from '../load/readObject.js';
import { generateSkeleton } from '../skeleton/generate.js';
import { EXIT_OK } from './common.js';
import type { CliContext } from './command.js';

export interface GenTypesArgs {
  file: string;
  output: string | undefined;
  importFrom: string;
  /** --type NAME, repeatable or comma-separated: record types */
  type: string[] | undefined;
  verbose: boolean;
}

/**
 * The generated `load()` opens the object by the path written into it, as
 * given here: relative paths resolve against the working directory of the
 * process that calls load(), which is where a project's scripts run from.
 */
export async function runGenTypes(args: GenTypesArgs, { io }: CliContext): Promise<number> {
  // as a load reads it: the errno named, and a FIFO or a directory refused instead of blocking or reading nothing
  const bytes = readObjectFileSync(args.file);
  const text = generateSkeleton(bytes, { objectPath: args.file, importFrom: args.importFrom, ...(args.type ? { types: args.type } : {}) });
  if (args.output === undefined) {
    io.out(text.endsWith('\n') ? text.slice(0, -1) : text);
    return EXIT_OK;
  }
  try {
    writeFileSync(args.output, text);
  } catch (cause) {
    throw new LoadError(`write '${args.output}'`, { file: args.output }, { cause, code: 'BPF_LOAD_INPUT' });
  }
  io.err(`wrote ${resolve(args.output)}`);
  return EXIT_OK;
}

