import { resolve } from 'node:path';
import { SyscallError } from '../../syscall/index.js';
import { loadBpfObject, readObjectSpec } from '../load/loadBpfFile.js';
import type { ObjectSpec } from '../../elf/index.js';
import { LoadError } from '../errors.js';
import type { LoadObjectOptions } from '../options.js';
import { cliVariables } from './variables.js';
import type { BpfObject } from '../load/bpfObject.js';
import { EXIT_OK, PROGRAM_NAME, type CliIo } from './common.js';
import { formattedJson, type Formatted } from '../maps/btfFormat.js';
import type { CliContext } from './command.js';
import { exitStatusForSignal } from './signals.js';
import { mapRowsFromObject, mapRowsFromSpec, renderMapTable, type MapRow } from './mapTable.js';
import { renderVariableTable, variableRowsFromObject, variableRowsFromSpec, type VariableRow } from './variableTable.js';
import type { LoadArgs } from './loadOptions.js';
import { checkPersistentBpffs, pinLoadOptions, pinNote, tcPinNote } from './pinCommands.js';
import { programLoadOptions, programRowsFromObject, selectedPrograms, programRowsFromSpec, renderProgramTable, type ProgramRow } from './programs.js';
import { checkBeforeLoad, exportAttachAndHold, skippedSummary, tcLoadOptions } from './tc.js';
import { coreRelocationsOf } from '../load/coreStep.js';
import type { CoreRelocationReport } from '../../elf/btf/index.js';
import { coreJson, renderCoreTable } from './loadCore.js';

/** The default command: load FILE, print what the kernel made, then pin, export, attach and hold as asked. */
export async function runLoad(args: LoadArgs, { io, signals }: CliContext): Promise<number> {
  if (signals.received) return interrupted(signals.received, 'before anything was loaded', io);
  const programOptions = programLoadOptions(args);
  const typeOptions = tcLoadOptions(args);
  const spec = readObjectSpec(args.file, {
    convention: args.convention,
    ...(Array.isArray(programOptions.programs) ? { sections: programOptions.programs } : {}),
  });
  if (args.dryRun) {
    // what the same command would load: --programs is checked as the load checks it, and only those are listed
    const select = args.programs?.length ? args.programs : undefined;
    const chosen = new Set(selectedPrograms(spec, args).map((program) => program.name));
    // calculated before anything is printed: a relocation that cannot be calculated prints no table
    const core = args.core
      ? coreRelocationsOf(spec, {
        ...(args.btf !== undefined && { btfPath: args.btf }),
        ...(select && { programs: select }),
        onWarning: (message) => io.err(`warning: ${message}`),
      })
      : undefined;
    const rows = programRowsFromSpec(spec, true).filter((row) => chosen.has(row.name));
    const programs = withCore(rows, args, (row) => core![row.name] ?? []);
    printObject(args, spec, mapRowsFromSpec(spec), programs, variableRowsFromSpec(spec), false, io);
    printCoreTables(programs, args, (row) => core![row.name] ?? [], io);
    return EXIT_OK;
  }
  // what the options name (interfaces, programs, a socket, a bpffs that lasts) is checked before anything is made
  checkBeforeLoad(spec, args);
  selectedPrograms(spec, args);
  if (args.pin !== undefined) checkPersistentBpffs(args.pin);
  const options: LoadObjectOptions = {
    ...pinLoadOptions(args),
    ...(args.set?.length ? { variables: cliVariables(spec, args.set) } : {}),
    ...(args.pinRoot !== undefined ? { pinning: { root: args.pinRoot } } : {}),
    ...programOptions,
    ...typeOptions,
    onWarning: (message) => io.err(`warning: ${message}`),
  };
  if (signals.received) return interrupted(signals.received, 'before anything was loaded', io);
  const object = loadBpfObject(spec, options);
  let detached: string | undefined;
  try {
    // the load ran to its end (a signal cannot cut into it): what it pinned is a complete set. A signal
    // that came during it reaches its listener only on the event loop's next poll: wait for that turn
    await new Promise<void>((resolve) => setImmediate(resolve));
    if (signals.received) {
      return interrupted(signals.received, `after the load completed${args.pin !== undefined ? `; the pins in ${resolve(args.pin)} are complete` : ''}`, io);
    }
    const maps = readBack(args.file, 'maps', () => mapRowsFromObject(object));
    const variables = readBack(args.file, 'variables', () => variableRowsFromObject(object));
    const programs = readBack(args.file, 'programs', () => programRows(object, args));
    printObject(args, spec, maps, programs, variables, true, io);
    printCoreTables(programs, args, (row) => object.programs[row.index]!.coreRelocations, io);
    if (args.logLevel !== undefined || args.verbose) printLogs(object, args, io);
    const say = (text: string): void => (args.json ? io.err(text) : io.out(text));
    detached = await exportAttachAndHold(object, args, say, signals);
    for (const note of [pinNote(args), tcPinNote(object, args)]) if (note) say(note);
  } finally {
    object.close();
  }
  if (detached) (args.json ? io.err : io.out)(detached);
  return EXIT_OK;
}

/** The program rows; with --log-level and --json, each carries its verifier log. */
function programRows(object: BpfObject, args: LoadArgs): ProgramRow[] {
  const rows = withCore(programRowsFromObject(object), args, (row) => object.programs[row.index]!.coreRelocations);
  if (!args.json || args.logLevel === undefined) return rows;
  return rows.map((row, i) => ({ ...row, verifier_log: object.programs[i]!.verifierLog ?? '' }));
}

/** With --core and --json: each program's relocations in its entry (`core`, empty for a program without CO-RE records). */
function withCore(rows: ProgramRow[], args: LoadArgs, coreOf: (row: ProgramRow) => readonly CoreRelocationReport[]): ProgramRow[] {
  if (!args.core || !args.json) return rows;
  return rows.map((row) => ({ ...row, core: coreJson(coreOf(row)) }));
}

/** With --core and no --json: a table of each program's relocations, after the object's tables. */
function printCoreTables(rows: ProgramRow[], args: LoadArgs, coreOf: (row: ProgramRow) => readonly CoreRelocationReport[], io: CliIo): void {
  if (!args.core || args.json) return;
  const tables = rows.map((row) => renderCoreTable(row.name, coreOf(row)));
  io.out(tables.length > 0 ? tables.join('\n') : 'CO-RE relocations: no programs');
}

/** --log-level (or --verbose): the verifier's log of each program, on stderr; with --json they are in the JSON instead. */
function printLogs(object: BpfObject, args: LoadArgs, io: CliIo): void {
  if (args.json && args.logLevel !== undefined) return;
  for (const program of object.programs) {
    if (program.verifierLog) io.err(`-- verifier log of ${program.name} --\n${program.verifierLog.trimEnd()}`);
    else if (args.logLevel !== undefined) io.err(`-- verifier log of ${program.name}: empty --`);
  }
}

/** The tables (or the JSON object) of what the object holds, then the summary of the sections it skipped. */
function printObject(args: LoadArgs, spec: ObjectSpec, maps: MapRow[], programs: ProgramRow[], variables: VariableRow[], loaded: boolean, io: CliIo): void {
  if (args.json) {
    const head = loaded ? { file: args.file } : { file: args.file, dry_run: true };
    const withVariables = variables.length > 0 ? { variables } : {};
    io.out(formattedJson({ ...head, license: spec.license ?? null, maps, programs, ...withVariables, skipped_sections: spec.skippedSections } as unknown as Formatted, 2));
  } else {
    const variableTable = renderVariableTable(variables);
    io.out(`${args.file}${loaded ? '' : ' (dry run: nothing loaded)'}\n${renderMapTable(maps, loaded)}\n${renderProgramTable(programs, loaded)}${variableTable ? `\n${variableTable}` : ''}`);
  }
  const skipped = skippedSummary(spec);
  if (skipped) (args.json ? io.err : io.out)(skipped);
}

function interrupted(signal: NodeJS.Signals, when: string, io: CliIo): number {
  io.err(`${PROGRAM_NAME}: interrupted by ${signal} ${when}`);
  return exitStatusForSignal(signal);
}

/** The table is the kernel's word (BPF_OBJ_GET_INFO_BY_FD): when it cannot be read, say for which file. */
function readBack<T>(file: string, what: string, read: () => T): T {
  try {
    return read();
  } catch (cause) {
    if (!(cause instanceof SyscallError)) throw cause;
    throw new LoadError(`loaded, but cannot read back the ${what} the kernel made`, { file }, { cause });
  }
}
