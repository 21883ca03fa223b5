// CO-RE in the load: each program's relocation records (instruction offsets in the assembled
// program) calculated against the kernel's BTF and patched into the instructions before
// BPF_PROG_LOAD, as libbpf's bpf_object__relocate_core does. The object's own BTF is rebuilt
// once per spec from the types it carries.

import {
  BtfError, calculateCoreRelocation, coreReports, marshalBtf, parseBtf, patchCoreInstruction, type Btf, type CoreOutcome,
  type CoreRelocationReport,
} from '../../elf/btf/index.js';
import type { ObjectSpec, ProgramSpec } from '../../elf/index.js';
import { coreTargetsOf } from '../btf/core.js';
import { kernelBtf } from '../btf/kernelBtf.js';
import { LoadError, argumentError, checkOptions, checkString } from '../errors.js';
import { checkObjectSpec, selectPrograms } from './selectPrograms.js';

const localBtfs = new WeakMap<ObjectSpec, Btf>();

/** The object's BTF as a parsed Btf (type ids as in the file: the DATASEC fix-ups change no id). */
export function localBtfOf(spec: ObjectSpec): Btf {
  let btf = localBtfs.get(spec);
  if (!btf) {
    if (!spec.btf) throw new LoadError('the object has CO-RE relocations and no BTF', { file: spec.file }, { code: 'BPF_LOAD_INPUT' });
    btf = parseBtf(marshalBtf(spec.btf.types, { strings: spec.btf.strings, littleEndian: spec.byteOrder === 'little' }), {
      file: spec.file, section: '.BTF',
    });
    localBtfs.set(spec, btf);
  }
  return btf;
}

export interface CoreStepSettings {
  btfPath: string | undefined;
  onWarning: ((message: string) => void) | undefined;
}

/**
 * Every CO-RE record of `program` applied to `insns` (its relocated copy, patched in place)
 * against the running kernel's BTF (or settings.btfPath). An unsatisfiable relocation is
 * poisoned as libbpf does; a record that cannot be relocated at all is a LoadError naming the
 * program, the instruction, the local type and the access string. Returns what was done to each
 * record, in record order, as the calculator gave it (coreReportsOf() makes the reports).
 */
export function applyKernelCore(spec: ObjectSpec, program: ProgramSpec, insns: Uint8Array, settings: CoreStepSettings): CoreOutcome[] {
  const relos = program.btfExt?.coreRelos;
  if (!relos || relos.length === 0) return [];
  const local = localBtfOf(spec);
  const kernel = kernelBtf(settings.btfPath !== undefined ? { btfPath: settings.btfPath } : {});
  const onBroken = (module: string, error: unknown): void =>
    settings.onWarning?.(`module '${module}': its BTF is skipped for CO-RE: ${error instanceof Error ? error.message : String(error)}`);
  const targetOf = coreTargetsOf(kernel, local, onBroken);
  const outcomes: CoreOutcome[] = [];
  for (const relo of relos) {
    const localName = (): string => {
      try {
        const type = local.type(relo.typeId);
        return `${type.kind.toLowerCase()} ${type.name || '<anon>'} [${relo.typeId}]`;
      } catch {
        return `[${relo.typeId}]`;
      }
    };
    try {
      const target = targetOf(relo);
      // the spec keeps the access string itself; its offset in .BTF's strings is not needed to calculate
      const record = { accessStrOff: 0, ...relo };
      const result = calculateCoreRelocation(local, target.btf, record, { candidates: target.candidates, program: program.name });
      const patch = patchCoreInstruction(insns, relo.insnOff, result, program.name);
      outcomes.push({ relo: record, result, patch, targetBtf: target.object, candidates: target.candidates });
    } catch (error) {
      if (!(error instanceof BtfError)) throw error;
      // the calculator's reason without the where it repeats (file, section, program, type, instruction): the
      // CLI prints a message, not its cause
      const reason = error.message.replace(/^.*?\binsn #\d+: /s, '');
      throw new LoadError(
        `CO-RE relocation at insn #${relo.insnOff} (local type ${localName()}, access string '${relo.accessString}') cannot be applied: ${reason}`,
        { file: spec.file, section: program.section, program: program.name },
        { cause: error, code: 'BPF_LOAD_BTF' },
      );
    }
  }
  return outcomes;
}

/** The reports of `outcomes` (applyKernelCore's for `program`), in instruction order. */
export function coreReportsOf(spec: ObjectSpec, program: ProgramSpec, outcomes: readonly CoreOutcome[]): CoreRelocationReport[] {
  return coreReports(localBtfOf(spec), program.name, program.subprograms, outcomes);
}

/** What CO-RE would do to each program of an object, without loading it. */
export interface CoreRelocationsOptions {
  /** a BTF file to relocate against instead of the running kernel's /sys/kernel/btf/vmlinux */
  btfPath?: string;
  /** only these programs (function or section names), as a load's `programs` chooses them; default every program */
  programs?: readonly string[];
  /** a module whose BTF cannot be parsed is skipped with a warning */
  onWarning?: (message: string) => void;
}

/**
 * Every CO-RE relocation of each program of `spec`, calculated against the running kernel's BTF
 * (or options.btfPath) and applied to a copy of its instructions, loading nothing: what a load
 * would report in `program.coreRelocations`. Reading /sys/kernel/btf needs no privilege.
 * Keyed by program name, in load order; a program without CO-RE records has an empty list. A
 * record that cannot be relocated is the LoadError (BPF_LOAD_BTF) the load would throw; a name in
 * options.programs that is no program of the object is refused as a load refuses it.
 */
export function coreRelocationsOf(spec: ObjectSpec, options: CoreRelocationsOptions = {}): Record<string, readonly CoreRelocationReport[]> {
  const where = 'coreRelocationsOf';
  checkObjectSpec(spec, where);
  checkOptions(options, ['btfPath', 'programs', 'onWarning'], where);
  const { btfPath, programs, onWarning } = options;
  if (btfPath !== undefined) checkString(btfPath, 'options.btfPath', where);
  if (onWarning !== undefined && typeof onWarning !== 'function') throw argumentError(where, 'options.onWarning', 'a function', onWarning);
  if (programs !== undefined && !(Array.isArray(programs) && programs.length > 0 && programs.every((p) => typeof p === 'string' && p !== ''))) {
    throw argumentError(where, 'options.programs', 'a non-empty array of program names', programs);
  }
  const reports: Record<string, readonly CoreRelocationReport[]> = {};
  const settings = { btfPath, onWarning };
  for (const program of selectPrograms(spec, programs)) {
    const outcomes = applyKernelCore(spec, program, program.insns.slice(), settings);
    reports[program.name] = outcomes.length === 0 ? [] : coreReportsOf(spec, program, outcomes);
  }
  return reports;
}
