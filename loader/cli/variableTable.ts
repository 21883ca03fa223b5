import type { ObjectSpec, VariableSpec } from '../../elf/index.js';
import type { Btf } from '../../elf/btf/index.js';
import type { BpfObject } from '../load/bpfObject.js';
import { localBtfOf } from '../load/coreStep.js';
import { typeName } from '../maps/btfCodec.js';
import { btfFormatted, formattedJson, type Formatted } from '../maps/btfFormat.js';
import { renderTable } from './mapTable.js';

/**
 * The global variables of a libbpf-style object, by name, with their values
 * as bpftool formats them: what the load command prints after its maps and
 * programs (read back from the kernel's maps once loaded, so `--set` shows
 * where it landed; the object's initial values with --dry-run).
 */
export interface VariableRow {
  /** the data map that holds it (`obj.bss`, `obj.rodata`, `.data.NAME`) */
  map: string;
  name: string;
  type: string;
  offset: number;
  size: number;
  value: Formatted;
}

/** The variables with the values the object starts with (each data map's initial value). */
export function variableRowsFromSpec(spec: ObjectSpec): VariableRow[] {
  return rows(spec, (variable) => spec.maps[variable.map]?.initialValue);
}

/** The variables with the values the kernel's maps hold now (entry 0 of each data map). */
export function variableRowsFromObject(object: BpfObject): VariableRow[] {
  const values = new Map<string, Uint8Array | false | undefined>();
  const valueOf = (mapName: string): Uint8Array | false | undefined => {
    if (!values.has(mapName)) {
      const map = object.maps.find((m) => m.name === mapName);
      values.set(mapName, map ? map.lookup(Buffer.alloc(4)) : false);
    }
    return values.get(mapName);
  };
  return rows(object.spec, (variable) => valueOf(variable.map));
}

/** `bytesOf` gives the data map's value, undefined for zeros (.bss), false for a map that was not made (the variable is left out). */
function rows(spec: ObjectSpec, bytesOf: (variable: VariableSpec) => Uint8Array | false | undefined): VariableRow[] {
  const variables = Object.values(spec.variables ?? {});
  if (variables.length === 0) return [];
  const btf: Btf | undefined = spec.btf ? localBtfOf(spec) : undefined;
  const out: VariableRow[] = [];
  for (const variable of variables) {
    const bytes = bytesOf(variable);
    if (bytes === false) continue;
    const typed = btf !== undefined && variable.typeId !== 0;
    // a .bss map has no initial value: its variables start as zeros
    const source = bytes ?? new Uint8Array(variable.offset + variable.size);
    const value: Formatted = typed
      ? btfFormatted(btf, variable.typeId, source, variable.offset)
      : Buffer.from(source.buffer, source.byteOffset + variable.offset, variable.size).toString('hex');
    out.push({ map: variable.map, name: variable.name, type: typed ? typeName(btf, variable.typeId) : `${variable.size} bytes`, offset: variable.offset, size: variable.size, value });
  }
  return out.sort((a, b) => a.map.localeCompare(b.map) || a.offset - b.offset);
}

/** Widest value the text table shows whole; the JSON has all of it. */
const VALUE_WIDTH = 64;

/** The text table of the variables; undefined when the object has none. */
export function renderVariableTable(rows: readonly VariableRow[]): string | undefined {
  if (rows.length === 0) return undefined;
  const body = rows.map((row) => {
    const text = formattedJson(row.value);
    return [row.map, row.name, row.type, text.length > VALUE_WIDTH ? `${text.slice(0, VALUE_WIDTH - 1)}…` : text];
  });
  return `variables (${rows.length}):\n${renderTable(['map', 'name', 'type', 'value'], body)}`;
}
