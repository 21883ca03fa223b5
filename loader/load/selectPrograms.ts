// Which programs of a spec a call is about, and the spec argument itself checked: shared by the
// load and by coreRelocationsOf(), which must choose the same programs a load with the same
// options would.

import { programOrder, type ObjectSpec, type ProgramSpec } from '../../elf/index.js';
import { LoadError, argumentError } from '../errors.js';
import type { ProgramSelection } from '../options.js';

/**
 * `spec` is an ObjectSpec (the shape parseObject() and readObjectSpec() give), or a BPF_LOAD_ARGUMENT
 * error for `where`. Its programs are objects here, not in validateSpec(): every entry point orders
 * them (programOrder) before the spec is validated.
 */
export function checkObjectSpec(spec: unknown, where: string): asserts spec is ObjectSpec {
  const s = spec as Partial<ObjectSpec> | null;
  if (typeof s !== 'object' || s === null || typeof s.maps !== 'object' || s.maps === null || Array.isArray(s.maps) ||
      typeof s.programs !== 'object' || s.programs === null || Array.isArray(s.programs)) {
    throw argumentError(where, 'spec', 'an ObjectSpec from parseObject() or readObjectSpec()', spec);
  }
  for (const key of Object.keys(s.programs)) {
    const program = s.programs[key];
    if (typeof program !== 'object' || program === null) {
      throw new LoadError(`spec.programs['${key}'] is not a ProgramSpec`, { file: s.file }, { code: 'BPF_LOAD_ARGUMENT' });
    }
  }
}

/**
 * The programs options.programs asks for (`option` is how the caller's user
 * wrote it, for the refusal of a name no program has). tc's `<id>/<key>` tail-call
 * sections come along with whatever is chosen, as tc loads them with the
 * section it was asked for.
 */
export function selectPrograms(spec: ObjectSpec, filter: ProgramSelection | undefined, option = 'options.programs'): ProgramSpec[] {
  const all = programOrder(spec);
  if (filter === undefined) return all;
  const tcTailCall = (p: ProgramSpec): boolean => p.tailCall?.tcMapId !== undefined;
  if (typeof filter === 'function') {
    return all.filter((p) => filter({ section: p.section, name: p.name }) || tcTailCall(p));
  }
  for (const wanted of filter) {
    if (!all.some((p) => p.name === wanted || p.section === wanted)) {
      const skipped = spec.skippedSections.includes(wanted);
      throw new LoadError(
        `${option} names '${wanted}', which is no program of this object ` +
          `(programs: ${all.map((p) => `${p.name} (sec '${p.section}')`).join(', ') || 'none'})`,
        { file: spec.file },
        skipped
          ? { hint: `sec '${wanted}' has no known program prefix: read the object with sections: ['${wanted}'] (loadBpfFile does this for the names in options.programs)` }
          : {},
      );
    }
  }
  return all.filter((p) => filter.includes(p.name) || filter.includes(p.section) || tcTailCall(p));
}

