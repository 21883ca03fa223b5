// The TypeScript skeleton of an object: a module with the maps' key/value
// types from BTF (interfaces for structs and unions, number/bigint/boolean/
// string/arrays exactly as the BTF codecs decode them), the variables' types,
// the programs' names and the sha256 of the object, plus a `load()` that
// gives them typed. Pure: bytes in, text out.

import { basename } from 'node:path';
import { skipModifiers, skipModsAndTypedefs, type Btf, type BtfComposite } from '../../elf/btf/index.js';
import { argumentError, checkString } from '../errors.js';
import { mapTypeName } from '../../syscall/uapi.js';
import { typeName } from '../maps/btfCodec.js';
import { describeObject, type ObjectDescription } from './describe.js';

export interface GenerateSkeletonOptions {
  /** the object's path: the generated `load()` opens it when called without a path, and the header names it */
  objectPath: string;
  /** where the generated module imports bpf-load from (default 'bpf-load') */
  importFrom?: string;
}

/** Words a generated interface may not be named (TypeScript's own types and keywords). */
const RESERVED = new Set([
  'any', 'bigint', 'boolean', 'never', 'number', 'object', 'string', 'symbol', 'undefined', 'unknown', 'void', 'null',
  'Maps', 'Variables', 'VariableValues', 'SkeletonLoadOptions', 'ProgramName', 'Skeleton', 'Omit', 'Buffer', 'Array', 'Promise', 'BpfMap', 'BpfProgram', 'TypedMap',
  'LoadOptions', 'SkeletonObject', 'SkeletonVariable', 'SkeletonDescription', 'loadSkeleton', 'load', 'skeleton',
  'objectPath', 'class', 'enum', 'interface', 'type', 'function', 'default', 'import', 'export', 'const', 'let', 'var',
  'new', 'delete', 'in', 'of', 'typeof', 'instanceof', 'extends', 'implements', 'package', 'private', 'protected',
  'public', 'static', 'yield', 'await', 'async', 'super', 'this', 'true', 'false', 'if', 'else', 'for', 'while', 'do',
  'switch', 'case', 'break', 'continue', 'return', 'throw', 'try', 'catch', 'finally', 'with', 'debugger',
]);

const IDENTIFIER = /^[A-Za-z_$][A-Za-z0-9_$]*$/;

/** A property key as TypeScript takes it: bare when it is an identifier, quoted otherwise. */
function key(name: string): string {
  return IDENTIFIER.test(name) ? name : JSON.stringify(name);
}

/** Turns BTF types into TypeScript type text, declaring an interface per named struct or union once. */
class TypeWriter {
  readonly declarations: string[] = [];
  readonly #names = new Map<number, string>();
  readonly #taken = new Set<string>();

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
      lines.push(`${indent}${key(member.name)}: ${this.typeOf(member.type, depth + 1)};`);
    }
    return lines;
  }

  #literal(type: BtfComposite, depth: number, indent: string): string {
    return `{\n${this.#members(type, depth, `${indent}  `).join('\n')}\n${indent}}`;
  }

  #declare(type: BtfComposite, depth: number): string {
    const known = this.#names.get(type.id);
    if (known) return known;
    let name = RESERVED.has(type.name) ? `${type.name}_` : type.name;
    if (this.#taken.has(name)) name = `${name}_${type.kind.toLowerCase()}`;
    for (let n = 2; this.#taken.has(name); n++) name = `${type.name}_${n}`;
    this.#taken.add(name);
    this.#names.set(type.id, name);
    const what = type.kind === 'UNION' ? 'union (decoded: every member; to write, give one)' : 'struct';
    const body = this.#members(type, depth, '  ').join('\n');
    this.declarations.push(`/** ${what} ${type.name}, ${type.size} bytes */\nexport interface ${name} {\n${body}\n}`);
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
  const described = describeObject(bytes, options.objectPath);
  return write(described, options.objectPath, options.importFrom ?? 'bpf-load');
}

function write(object: ObjectDescription, objectPath: string, importFrom: string): string {
  const types = object.btf && new TypeWriter(object.btf);
  const typeOf = (id: number): string => types!.typeOf(id);
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
  const programs = [...new Set(object.programs)];
  const description = {
    object: basename(objectPath),
    sha256: object.sha256,
    maps: Object.fromEntries(object.maps.map((m) => [m.name, m.kind])),
    variables: Object.fromEntries(object.variables.map((v) => [v.name, v.section])),
    programs,
  };
  const out: string[] = [];
  out.push(`// Generated by bpf-load gen-types from ${basename(objectPath)}: do not edit; generate it again when the object changes.`);
  out.push(`// sha256 ${object.sha256}`);
  out.push(`import { loadSkeleton, type BpfMap, type LoadOptions, type SkeletonObject, type SkeletonVariable, type TypedMap } from ${JSON.stringify(importFrom)};`);
  out.push('');
  // referenced so that an object with no typed map or variable still compiles under noUnusedLocals
  out.push('export type { BpfMap, SkeletonVariable, TypedMap };');
  out.push('');
  for (const declaration of types?.declarations ?? []) out.push(declaration, '');
  out.push(`export interface Maps {\n${mapLines.join('\n')}${mapLines.length ? '\n' : ''}}`, '');
  out.push(`export interface Variables {\n${variableLines.join('\n')}${variableLines.length ? '\n' : ''}}`, '');
  out.push(`export type ProgramName = ${programs.length ? programs.map((p) => JSON.stringify(p)).join(' | ') : 'never'};`, '');
  out.push('export type Skeleton = SkeletonObject<Maps, Variables, ProgramName>;', '');
  out.push(`/** What the types were generated from; load() refuses an object whose sha256 differs. */`);
  out.push(`export const skeleton = ${JSON.stringify(description, null, 2)} as const;`, '');
  out.push(`/** The object's path when it was generated. */`);
  out.push(`export const objectPath = ${JSON.stringify(objectPath)};`, '');
  out.push('/** Values of the variables to set before the load: the only time a `const volatile` (.rodata) one can be set. */');
  out.push('export type VariableValues = { readonly [K in keyof Variables]?: Variables[K] extends SkeletonVariable<infer T> ? T : never };', '');
  out.push('/** Load options, with the variables typed. */');
  out.push("export type SkeletonLoadOptions = Omit<LoadOptions, 'variables'> & { readonly variables?: VariableValues };", '');
  out.push('/** Loads the object (by default from objectPath) and gives its maps, variables and programs typed. */');
  out.push('export function load(path: string = objectPath, options: SkeletonLoadOptions = {}): Promise<Skeleton> {');
  out.push('  return loadSkeleton<Maps, Variables, ProgramName>(path, skeleton, options);');
  out.push('}');
  out.push('');
  return out.join('\n');
}
