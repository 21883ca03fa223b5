// The TypeScript skeleton of an object: a module with the maps' key/value
// types from BTF (interfaces for structs and unions, number/bigint/boolean/
// string/arrays exactly as the BTF codecs decode them), the variables' types,
// the programs' names and the sha256 of the object, the types of the records
// named with `types` (what a ring buffer or perf event array carries, which no
// map types), plus a `load()` that gives them typed. Pure: bytes in, text out.

import { basename } from 'node:path';
import { sizeOf, skipModifiers, skipModsAndTypedefs, type Btf, type BtfComposite, type BtfEnum, type BtfEnum64 } from '../../elf/btf/index.js';
import { LoadError, argumentError, checkString } from '../errors.js';
import { mapTypeName } from '../../syscall/uapi.js';
import { typeName } from '../maps/btfCodec.js';
import { findNamedType, qualifiedName } from '../maps/btfNamedType.js';
import { describeObject, type ObjectDescription } from './describe.js';

export interface GenerateSkeletonOptions {
  /** the object's path: the generated `load()` opens it when called without a path, and the header names it */
  objectPath: string;
  /** where the generated module imports bpf-load from (default 'bpf-load') */
  importFrom?: string;
  /**
   * Types of the object's BTF to give as record types (`records.NAME`), for what a program sends
   * through a ring buffer or a perf event array: `event` or `struct event`, `union u`, `enum e`, a typedef.
   */
  types?: readonly string[];
}

/** A record type asked for: the property it is given as, and its BTF type. */
interface RecordInfo {
  property: string;
  typeId: number;
}

/** Words a generated interface may not be named (TypeScript's own types and keywords). */
const RESERVED = new Set([
  'any', 'bigint', 'boolean', 'never', 'number', 'object', 'string', 'symbol', 'undefined', 'unknown', 'void', 'null',
  'Maps', 'Variables', 'Records', 'RecordType', 'recordTypes', 'skeletonRecords', 'VariableValues', 'SkeletonLoadOptions', 'ProgramName', 'Skeleton', 'Omit', 'Buffer', 'Array', 'Promise', 'BpfMap', 'BpfProgram', 'TypedMap',
  'LoadOptions', 'SkeletonObject', 'SkeletonVariable', 'SkeletonDescription', 'loadSkeleton', 'load', 'skeleton',
  'objectPath', 'eval', 'arguments', 'class', 'enum', 'interface', 'type', 'function', 'default', 'import', 'export', 'const', 'let', 'var',
  'new', 'delete', 'in', 'of', 'typeof', 'instanceof', 'extends', 'implements', 'package', 'private', 'protected',
  'public', 'static', 'yield', 'await', 'async', 'super', 'this', 'true', 'false', 'if', 'else', 'for', 'while', 'do',
  'switch', 'case', 'break', 'continue', 'return', 'throw', 'try', 'catch', 'finally', 'with', 'debugger',
]);

const IDENTIFIER = /^[A-Za-z_$][A-Za-z0-9_$]*$/;

/** A property key as TypeScript takes it: bare when it is an identifier, quoted otherwise. */
function key(name: string): string {
  return IDENTIFIER.test(name) ? name : JSON.stringify(name);
}

/**
 * `cName` as a name no declaration in `taken` has, and no TypeScript word: with `_` after a
 * reserved word, then `_<alternative>` (a struct beside a union of its name), then `_2`, `_3`…;
 * the name is taken.
 */
function uniqueName(cName: string, taken: Set<string>, alternative?: string): string {
  let name = RESERVED.has(cName) ? `${cName}_` : cName;
  if (alternative !== undefined && taken.has(name)) name = `${name}_${alternative}`;
  for (let n = 2; taken.has(name); n++) name = `${cName}_${n}`;
  taken.add(name);
  return name;
}

/** Turns BTF types into TypeScript type text, declaring an interface per named struct or union once. */
class TypeWriter {
  readonly declarations: string[] = [];
  readonly #names = new Map<number, string>();
  readonly #taken = new Set<string>();
  /** enums whose enumerators are declared as a const, and the names those consts took */
  readonly #enums = new Set<number>();
  readonly #takenValues = new Set<string>();

  constructor(readonly btf: Btf) {}

  /** The TS type of a value of BTF type `id`, as btfCodec decodes it. */
  typeOf(id: number, depth = 0): string {
    if (depth > 64) return 'unknown';
    const btf = this.btf;
    const type = btf.type(skipModsAndTypedefs(btf, id));
    switch (type.kind) {
      case 'INT':
        if (type.bool) return 'boolean';
        return type.size > 4 ? 'bigint' : 'number';
      case 'ENUM':
      case 'ENUM64':
        if (type.name) this.#enumValues(type);
        return type.size > 4 ? 'bigint' : 'number';
      case 'PTR':
        return 'bigint';
      case 'FLOAT':
        return 'number';
      case 'ARRAY': {
        const element = btf.type(skipModifiers(btf, type.type));
        if (type.nelems > 0 && element.kind === 'INT' && element.size === 1 && (element.char || element.name === 'char')) return 'string';
        const inner = this.typeOf(type.type, depth + 1);
        return /^[A-Za-z_$][\w$]*(\[\])*$/.test(inner) ? `${inner}[]` : `Array<${inner}>`;
      }
      case 'STRUCT':
      case 'UNION':
        return type.name ? this.#declare(type, depth) : this.#literal(type, depth, '');
      default:
        return 'never';
    }
  }

  /** The TS type of a record of BTF type `id`: as typeOf, with a typedef of an anonymous struct or union declared under the typedef's name. */
  recordTypeOf(id: number): string {
    const btf = this.btf;
    const named = btf.type(skipModifiers(btf, id));
    const target = btf.type(skipModsAndTypedefs(btf, id));
    if (named.kind === 'TYPEDEF' && (target.kind === 'STRUCT' || target.kind === 'UNION') && !target.name) return this.#declare(target, 0, named.name);
    return this.typeOf(id);
  }

  /** Members as TS property lines; anonymous struct/union members' fields flattened in, as the codec does. */
  #members(type: BtfComposite, depth: number, indent: string): string[] {
    const lines: string[] = [];
    for (const member of type.members) {
      const target = this.btf.type(skipModsAndTypedefs(this.btf, member.type));
      if (member.name === '' && (target.kind === 'STRUCT' || target.kind === 'UNION')) {
        lines.push(...this.#members(target, depth + 1, indent));
        continue;
      }
      const bits = member.bitfieldSize ? `: ${member.bitfieldSize}` : '';
      lines.push(`${indent}/** ${typeName(this.btf, member.type)}${bits} */`);
      lines.push(`${indent}${key(member.name)}: ${indented(this.typeOf(member.type, depth + 1), indent)};`);
    }
    return lines;
  }

  #literal(type: BtfComposite, depth: number, indent: string): string {
    return `{\n${this.#members(type, depth, `${indent}  `).join('\n')}\n${indent}}`;
  }

  /** A named enum's enumerators as a const object (`state.STATE_DONE`), the values as btfCodec decodes them, once per enum. */
  #enumValues(type: BtfEnum | BtfEnum64): void {
    if (this.#enums.has(type.id)) return;
    this.#enums.add(type.id);
    const name = uniqueName(type.name, this.#takenValues);
    const values = type.values.map((v) => `  ${key(v.name)}: ${type.size > 4 ? `${v.value}n` : String(v.value)},`);
    this.declarations.push(`/** enum ${type.name}: its enumerators, as records, maps and variables decode them */\nexport const ${name} = {\n${values.join('\n')}\n} as const;`);
  }

  #declare(type: BtfComposite, depth: number, cName = type.name): string {
    const known = this.#names.get(type.id);
    if (known) return known;
    const name = uniqueName(cName, this.#taken, type.kind.toLowerCase());
    this.#names.set(type.id, name);
    const what = type.kind === 'UNION' ? 'union (decoded: every member; to write, give one)' : 'struct';
    const body = this.#members(type, depth, '  ').join('\n');
    const title = type.name ? `${what} ${type.name}` : `${cName}: ${what}`;
    this.declarations.push(`/** ${title}, ${type.size} bytes */\nexport interface ${name} {\n${body}\n}`);
    return name;
  }
}

/**
 * The text of a TypeScript module for the object in `bytes`: its types, a
 * `skeleton` description (sha256 included) and `load(path?, options?)`,
 * which returns `{ maps, variables, programs }` typed and refuses an object
 * whose sha256 differs from the one the types were generated from.
 */
export function generateSkeleton(bytes: Uint8Array, options: GenerateSkeletonOptions): string {
  if (!(bytes instanceof Uint8Array)) throw argumentError('generateSkeleton', 'bytes', 'a Uint8Array (the object file)', bytes);
  if (typeof options !== 'object' || options === null) throw argumentError('generateSkeleton', 'options', 'an object', options);
  checkString(options.objectPath, 'options.objectPath', 'generateSkeleton');
  if (options.importFrom !== undefined) checkString(options.importFrom, 'options.importFrom', 'generateSkeleton');
  const types = options.types === undefined ? [] : options.types;
  if (!Array.isArray(types) || !types.every((t) => typeof t === 'string')) {
    throw argumentError('generateSkeleton', 'options.types', "an array of type names ('event', 'struct event')", types);
  }
  const described = describeObject(bytes, options.objectPath);
  return write(described, options.objectPath, options.importFrom ?? 'bpf-load', recordsOf(described, types, options.objectPath));
}

/** The hint for a type the object's BTF lacks: how to make clang keep it. */
function keepHint(name: string): string {
  const words = name.trim().split(/\s+/);
  const bare = words[words.length - 1]!;
  const cType = words.length === 2 && words[0] !== 'typedef' ? `${words[0]} ${bare}` : words.length === 2 ? bare : `struct ${bare}`;
  const variable = `keep_${bare}`;
  return 'clang gives BTF only to the types of global variables, maps and functions, not to one used only inside a function ' +
    `(a pointer into a ring buffer): keep it with 'static const ${cType} *const ${variable} __attribute__((used));' ` +
    '(8 bytes of .rodata, no map of its own if the object has a .rodata) and build with -g';
}

/** The record types `names` ask for, each found once in the object's BTF; the same type named twice is given once. */
function recordsOf(object: ObjectDescription, names: readonly string[], file: string): RecordInfo[] {
  const records: RecordInfo[] = [];
  for (const name of names) {
    const btf = object.btf;
    if (!btf) {
      throw new LoadError(`record type ${name}: the object has no BTF`, { file }, { code: 'BPF_LOAD_ARGUMENT', hint: 'build it with clang -g' });
    }
    const typeId = findNamedType(btf, name, { what: 'record type', context: { file }, missingHint: keepHint(name) });
    const property = btf.type(skipModifiers(btf, typeId)).name;
    const same = records.find((r) => r.property === property);
    if (same?.typeId === typeId) continue;
    if (same) {
      throw new LoadError(`record types ${qualifiedName(btf, same.typeId)} and ${qualifiedName(btf, typeId)} would both be records.${property}`, { file }, {
        code: 'BPF_LOAD_ARGUMENT', hint: 'name only one of them',
      });
    }
    records.push({ property, typeId });
  }
  return records;
}

/** A type's text (an inline struct spans lines) set at `indent`: each line after the first moved in by it. */
function indented(text: string, indent: string): string {
  return text.includes('\n') ? text.replaceAll('\n', `\n${indent}`) : text;
}

function write(object: ObjectDescription, objectPath: string, importFrom: string, records: readonly RecordInfo[]): string {
  const types = object.btf && new TypeWriter(object.btf);
  // at the indent of the Maps and Variables members, where an anonymous struct is written inline
  const typeOf = (id: number): string => indented(types!.typeOf(id), '  ');
  const mapLines = object.maps.map((map) => {
    const mapType = mapTypeName(map.type);
    let tsType = 'BpfMap';
    let doc = `${mapType} map, key ${map.keySize} bytes, value ${map.valueSize} bytes`;
    if (map.kind !== 'raw') {
      const k = typeOf(map.keyTypeId);
      const v = typeOf(map.valueTypeId);
      tsType = map.kind === 'perCpu' ? `TypedMap<${k}, Array<${v}>>` : `TypedMap<${k}, ${v}>`;
      doc = `${mapType} map, key ${typeName(object.btf!, map.keyTypeId)}, value ${typeName(object.btf!, map.valueTypeId)}${map.kind === 'perCpu' ? ' (one per CPU)' : ''}`;
    }
    return `  /** ${doc} */\n  readonly ${key(map.name)}: ${tsType};`;
  });
  const variableLines = object.variables.map((v) =>
    `  /** ${v.section}, ${typeName(object.btf!, v.typeId)} */\n  readonly ${key(v.name)}: SkeletonVariable<${typeOf(v.typeId)}>;`);
  const recordLines = records.map((r) => {
    const cType = typeName(object.btf!, r.typeId);
    return `  /** ${cType}, ${sizeOf(object.btf!, r.typeId)} bytes */\n  readonly ${key(r.property)}: RecordType<${types!.recordTypeOf(r.typeId)}>;`;
  });
  const programs = [...new Set(object.programs)];
  const description = {
    object: basename(objectPath),
    sha256: object.sha256,
    maps: Object.fromEntries(object.maps.map((m) => [m.name, m.kind])),
    variables: Object.fromEntries(object.variables.map((v) => [v.name, v.section])),
    programs,
    records: Object.fromEntries(records.map((r) => [r.property, { type: typeName(object.btf!, r.typeId), id: r.typeId }])),
  };
  const out: string[] = [];
  out.push(`// Generated by bpf-load gen-types from ${basename(objectPath)}: do not edit; generate it again when the object changes.`);
  out.push(`// sha256 ${object.sha256}`);
  out.push('import {');
  out.push('  loadSkeleton, skeletonRecords, type BpfMap, type LoadOptions, type RecordType, type SkeletonObject, type SkeletonVariable, type TypedMap,');
  out.push(`} from ${JSON.stringify(importFrom)};`);
  out.push('');
  // referenced so that an object with no typed map, variable or record still compiles under noUnusedLocals
  out.push('export type { BpfMap, RecordType, SkeletonVariable, TypedMap };');
  out.push('');
  for (const declaration of types?.declarations ?? []) out.push(declaration, '');
  out.push(`export interface Maps {\n${mapLines.join('\n')}${mapLines.length ? '\n' : ''}}`, '');
  out.push(`export interface Variables {\n${variableLines.join('\n')}${variableLines.length ? '\n' : ''}}`, '');
  out.push(`export type ProgramName = ${programs.length ? programs.map((p) => JSON.stringify(p)).join(' | ') : 'never'};`, '');
  out.push(records.length
    ? '/** Record types (gen-types --type NAME), for what the programs send through a ring buffer or perf event array: `records.NAME.decode(record.data)`. */'
    : '/** Record types: none were asked for (gen-types --type NAME gives what a ring buffer or perf event array carries). */');
  out.push(`export interface Records {\n${recordLines.join('\n')}${recordLines.length ? '\n' : ''}}`, '');
  out.push('export type Skeleton = SkeletonObject<Maps, Variables, ProgramName, Records>;', '');
  out.push(`/** What the types were generated from; load() refuses an object whose sha256 differs. */`);
  out.push(`export const skeleton = ${JSON.stringify(description, null, 2)} as const;`, '');
  out.push(`/** The object's path when it was generated. */`);
  out.push(`export const objectPath = ${JSON.stringify(objectPath)};`, '');
  out.push('/** Values of the variables to set before the load: the only time a `const volatile` (.rodata) one can be set. */');
  out.push('export type VariableValues = { readonly [K in keyof Variables]?: Variables[K] extends SkeletonVariable<infer T> ? T : never };', '');
  out.push('/** Load options, with the variables typed. */');
  out.push("export type SkeletonLoadOptions = Omit<LoadOptions, 'variables'> & { readonly variables?: VariableValues };", '');
  out.push('/** Loads the object (by default from objectPath) and gives its maps, variables, programs and record types typed. */');
  out.push('export function load(path: string = objectPath, options: SkeletonLoadOptions = {}): Promise<Skeleton> {');
  out.push('  return loadSkeleton<Maps, Variables, ProgramName, Records>(path, skeleton, options);');
  out.push('}');
  out.push('');
  out.push("/** The record types alone, loading nothing (for a reader of a ring buffer another process loaded): the object's BTF builds them. */");
  out.push('export function recordTypes(path: string = objectPath): Records {');
  out.push('  return skeletonRecords<Records>(path, skeleton);');
  out.push('}');
  out.push('');
  return out.join('\n');
}
