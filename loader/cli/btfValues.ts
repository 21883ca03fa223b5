import {
  datasecVariables, sizeOf, skipModsAndTypedefs, type Btf, type DatasecVariable,
} from '../../elf/btf/index.js';
import { typeName } from '../maps/btfCodec.js';
import { btfFormatted, formattedJson, type Formatted } from '../maps/btfFormat.js';
import type { Codec } from '../maps/codecs.js';
import { LoadError } from '../errors.js';

// The CLI's view of values by their BTF types: bpftool's "formatted" shape
// (structs as objects, enums by name, char arrays as strings), for dump and
// events, and a data section's variables by name.

/** A decode-only codec giving BTF type `typeId` in bpftool's formatted shape: what dump walks a map with. */
export function formattedCodec(btf: Btf, typeId: number): Codec<Formatted, never> {
  return {
    name: typeName(btf, typeId),
    size: sizeOf(btf, typeId),
    align: 1,
    decode: (b, _v, o) => btfFormatted(btf, typeId, b, o),
    encode: () => {
      throw new LoadError('a formatted view only reads', {}, { code: 'BPF_LOAD_ARGUMENT' });
    },
  };
}

/** A value of BTF type on one line: JSON, 64-bit integers as plain digits (as bpftool prints them). */
export function formattedText(value: Formatted): string {
  return formattedJson(value);
}

/** A variable of a data section, with its type's name. */
export interface SectionVariable extends DatasecVariable {
  type: string;
}

/** The data section a map's value is (`.bss`, `.rodata`, `.data.NAME`, …), or undefined when its value type is no DATASEC. */
export function dataSectionOf(btf: Btf, valueTypeId: number): { name: string; variables: SectionVariable[] } | undefined {
  if (valueTypeId === 0) return undefined;
  const id = skipModsAndTypedefs(btf, valueTypeId);
  if (btf.kindOf(id) !== 'DATASEC') return undefined;
  const datasec = btf.typeOfKind(id, 'DATASEC');
  // the kernel's (and the loader's) DATASEC has the offsets and sizes the symbols gave: no symbol table needed
  const variables = datasecVariables(btf, datasec).map((v) => ({ ...v, type: typeName(btf, v.typeId) }));
  return { name: datasec.name, variables };
}

/** Each variable of a data section's value, formatted, in offset order. */
export function formattedVariables(btf: Btf, variables: readonly SectionVariable[], value: Uint8Array): { variable: SectionVariable; value: Formatted }[] {
  return variables.map((variable) => ({ variable, value: btfFormatted(btf, variable.typeId, value, variable.offset) }));
}
