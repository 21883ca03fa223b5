import * as commands from './commands.js';
import { BPF_ATTACH_TYPE, BPF_LINK_TYPE, BPF_MAP_TYPE, BPF_PROG_TYPE } from './bpf.js';
import * as btf from './btf.js';

/** Printable names, each derived from the table of its numbers so no name is written twice. */

function invert(table: Record<string, unknown>, prefix = ''): ReadonlyMap<number, string> {
  const names = new Map<number, string>();
  for (const [name, value] of Object.entries(table)) {
    if (typeof value === 'number' && name.startsWith(prefix) && !names.has(value)) names.set(value, name);
  }
  return names;
}

const COMMAND_NAMES = invert(commands, 'BPF_');
const MAP_TYPE_NAMES = invert(BPF_MAP_TYPE);
const PROG_TYPE_NAMES = invert(BPF_PROG_TYPE);
const ATTACH_TYPE_NAMES = invert(BPF_ATTACH_TYPE);
const LINK_TYPE_NAMES = invert(BPF_LINK_TYPE);
const BTF_KIND_NAMES = invert(Object.fromEntries(Object.entries(btf).filter(([name]) => name.startsWith('BTF_KIND_') && name !== 'BTF_KIND_MAX')));

/** `BPF_MAP_CREATE`…, as strace and the kernel's sources spell it; `bpf command N` for one not listed. */
export function commandName(cmd: number): string {
  return COMMAND_NAMES.get(cmd) ?? `bpf command ${cmd}`;
}

/**
 * `hash`, `percpu_array`… as bpftool spells them; the bare number for a type
 * this table does not know, so `type ${mapTypeName(t)}` reads right either way.
 */
export function mapTypeName(type: number): string {
  return MAP_TYPE_NAMES.get(type)?.toLowerCase() ?? String(type);
}

/** Like mapTypeName: bpftool's spelling, or the bare number. */
export function progTypeName(type: number): string {
  return PROG_TYPE_NAMES.get(type)?.toLowerCase() ?? String(type);
}

/** Like mapTypeName, for enum bpf_attach_type. */
export function attachTypeName(type: number): string {
  return ATTACH_TYPE_NAMES.get(type)?.toLowerCase() ?? String(type);
}

/** Like mapTypeName, for enum bpf_link_type. */
export function linkTypeName(type: number): string {
  return LINK_TYPE_NAMES.get(type)?.toLowerCase() ?? String(type);
}

/** `BTF_KIND_STRUCT`…; `BTF kind N` for one not listed. */
export function btfKindName(kind: number): string {
  return BTF_KIND_NAMES.get(kind) ?? `BTF kind ${kind}`;
}

/** The number of a map type by bpftool's spelling (`percpu_hash`), or undefined. */
export function mapTypeByName(name: string): number | undefined {
  return (BPF_MAP_TYPE as Record<string, number>)[name.toUpperCase()];
}

/** The number of a program type by bpftool's spelling (`sched_cls`), or undefined. */
export function progTypeByName(name: string): number | undefined {
  return (BPF_PROG_TYPE as Record<string, number>)[name.toUpperCase()];
}
