import { decodeUtf8, isAscii, shortAsciiString } from './byteReader.js';
import { readElf, type ElfFile, type ElfSection, type ElfSymbol } from './elfFile.js';
import { ElfError } from './errors.js';
import { readMapDefs } from './mapDefs.js';
import { readPrograms, type ProgramRules } from './programs.js';
import { objectBtf } from './btf/index.js';
import { programBtfExt, readModernParts, textFunctionStarts } from './modern.js';
import { BPF_MAP_TYPE, isMapInMapType } from '../uapi/bpf.js';
import { resolveTcReferences } from './tcConvention.js';
import type { ObjectSpec, MapConvention, MapSpec, ProgramSpec } from './types.js';

export interface ParseOptions {
  /** how the file is named in messages (default: `object`) */
  file?: string;
  /** which struct the `maps` section holds (default `samples`: struct bpf_map_def / bpf_load_map_def) */
  convention?: MapConvention;
  /**
   * executable sections to read as programs although their names carry no known
   * prefix (kind `untyped`); under the tc convention every executable section is one
   */
  sections?: readonly string[];
}

const MAX_LICENSE_LEN = 127;

export function parseObject(bytes: Uint8Array, options: ParseOptions = {}): ObjectSpec {
  checkArguments(bytes, options);
  const file = options.file ?? 'object';
  const convention = options.convention ?? 'samples';
  const elf = readElf(bytes, file);
  const { maps, section: mapsSection } = readMapDefs(elf, file, convention);
  const byOffset = new Map<number, string>();
  for (const map of maps) if (map.source.kind === 'maps') byOffset.set(map.source.offset, map.name);
  // libbpf-style: `.BTF` gives `.maps`, global data and libbpf's section names. An object with a legacy
  // `maps` section keeps today's rules, and takes only its `.maps` maps from the BTF
  const btf = convention === 'tc' ? undefined : objectBtf(elf, file);
  const parts = btf && readModernParts(elf, btf, file);
  const legacy = mapsSection !== undefined;
  const modern = parts && !legacy ? parts : undefined;
  const resolve = parts && (legacy ? legacyResolver(parts.resolve, elf) : parts.resolve);
  // no spread of an empty object for the usual (legacy) case: that is a builtin entered for nothing
  const rules: ProgramRules = { convention, sections: options.sections ?? [] };
  if (modern) rules.modern = { resolve: modern.resolve };
  const { programs, warnings, skippedSections } = readPrograms(elf, file, byOffset, mapsSection, rules, resolve);
  if (convention === 'tc') resolveTcReferences(maps, programs);
  else resolveSamplesReferences(maps, programs);
  if (parts) maps.push(...parts.maps.filter((m) => !legacy || m.source.kind === 'btf'));
  if (modern?.ext) {
    const textStart = textFunctionStarts(elf);
    for (const program of programs) program.btfExt = programBtfExt(modern.ext, program, textStart)!;
  }
  // one loop for both sections: a find() with a closure each would enter two more functions per parse
  let licenseSection: ElfSection | undefined;
  let versionSection: ElfSection | undefined;
  for (const section of elf.sections) {
    if (section.name === 'license') licenseSection ??= section;
    else if (section.name === 'version') versionSection ??= section;
  }
  const license = licenseSection && readLicense(licenseSection, file);
  const kernVersion = versionSection && readVersion(versionSection, elf.littleEndian, file);
  const byName = mapsByName(maps, file);
  const programsByItsName = programsByName(programs, warnings, file);
  const byteOrder = elf.littleEndian ? 'little' : 'big';
  if (!modern) {
    return {
      file, byteOrder, convention, license, kernVersion, sourceHash: undefined, maps: byName, programs: programsByItsName, skippedSections, warnings,
    };
  }
  return {
    variables: modern.variables,
    btf: modern.btf,
    ...(modern.externs.symbols.length > 0 ? { externs: modern.externs } : {}),
    file, byteOrder, convention, license, kernVersion, sourceHash: undefined, maps: byName, programs: programsByItsName, skippedSections, warnings,
  };
}

/** With a legacy `maps` section only `.maps` references resolve through the BTF; global data stays refused. */
function legacyResolver(
  resolve: (symbol: ElfSymbol, imm: number) => { map: string; offset?: number } | undefined, elf: ElfFile,
): (symbol: ElfSymbol, imm: number) => { map: string; offset?: number } | undefined {
  return (symbol, imm) => (elf.sections[symbol.shndx]?.name === '.maps' ? resolve(symbol, imm) : undefined);
}

/**
 * bpf_load.c's references by position, turned into names: a map-in-map's
 * inner_map_idx names its template in map_fd[] order; `socket/N` & co. go
 * into the object's last PROG_ARRAY. One that names no map stays unresolved,
 * and the load says why.
 */
function resolveSamplesReferences(maps: readonly MapSpec[], programs: readonly ProgramSpec[]): void {
  for (let index = 0; index < maps.length; index++) {
    const map = maps[index]!;
    if (!isMapInMapType(map.type) || map.source.kind !== 'maps') continue;
    const innerIndex = map.source.raw.innerMapIdx ?? 0;
    if (innerIndex !== index && innerIndex < maps.length) map.innerMap = maps[innerIndex]!.name;
  }
  let lastProgArray: MapSpec | undefined;
  for (const map of maps) if (map.type === BPF_MAP_TYPE.PROG_ARRAY) lastProgArray = map;
  for (const program of programs) if (program.tailCall && lastProgArray) program.tailCall.map = lastProgArray.name;
}

function mapsByName(maps: readonly MapSpec[], file: string): Record<string, MapSpec> {
  const byName: Record<string, MapSpec> = {};
  for (const map of maps) byName[map.name] = map;
  // a name given twice leaves the earlier map's entry taken by the later one. Checked after the
  // stores, not with a lookup before each: a name is a fresh string, and its first use as a key
  // hashes it and searches V8's string table, which the store does anyway
  for (const map of maps) if (byName[map.name] !== map) throw twoMapsNamed(maps, file);
  return byName;
}

/** The error for the first map whose name an earlier map has. */
function twoMapsNamed(maps: readonly MapSpec[], file: string): ElfError {
  const seen = new Set<string>();
  for (const map of maps) {
    if (seen.has(map.name)) return new ElfError(`two maps are named '${map.name}': maps are referred to by name`, { file, section: 'maps', map: map.name });
    seen.add(map.name);
  }
  throw new Error('unreachable: no two maps share a name');
}

/**
 * Programs by name. Two sections can hold functions of one name (static
 * ones): the later one is then known by its section name, which is unique.
 */
function programsByName(programs: readonly ProgramSpec[], warnings: string[], file: string): Record<string, ProgramSpec> {
  // as mapsByName(): the usual case, no name given twice, checked after the stores
  const byName: Record<string, ProgramSpec> = {};
  for (const program of programs) byName[program.name] = program;
  for (const program of programs) if (byName[program.name] !== program) return programsByNameRenaming(programs, warnings, file);
  return byName;
}

/** programsByName() when two programs share a name: the later ones are renamed, with a warning each. */
function programsByNameRenaming(programs: readonly ProgramSpec[], warnings: string[], file: string): Record<string, ProgramSpec> {
  const byName: Record<string, ProgramSpec> = {};
  for (const program of programs) {
    if (Object.hasOwn(byName, program.name)) {
      const first = byName[program.name]!;
      warnings.push(
        `${file}: sec '${program.section}': function '${program.name}' is also the program of sec '${first.section}': ` +
          `this one is named '${program.section}'`,
      );
      program.name = program.section;
      if (Object.hasOwn(byName, program.name)) {
        throw new ElfError(`two programs are named '${program.name}'`, { file, section: program.section });
      }
    }
    byName[program.name] = program;
  }
  return byName;
}

/**
 * The usual arguments pass here; the rest go to refuseArguments(). No message
 * is built here, so that V8 can compile it into parseObject() instead of
 * running it apart, unoptimised, once per parse.
 */
function checkArguments(bytes: unknown, options: unknown): void {
  if (!(bytes instanceof Uint8Array) || typeof options !== 'object' || options === null) return refuseArguments(bytes, options);
  // the options a caller usually passes, checked without the copies the full check makes for its messages
  for (const key in options) if (key !== 'file' && key !== 'convention' && key !== 'sections') return refuseArguments(bytes, options);
  const { file, convention, sections } = options as Record<string, unknown>;
  if (
    (file !== undefined && typeof file !== 'string') ||
    (convention !== undefined && convention !== 'samples' && convention !== 'tc') ||
    (sections !== undefined && !stringArray(sections))
  ) {
    refuseArguments(bytes, options);
  }
}

/** A loop, not every() with a closure: options.sections is usually absent or a few names. */
function stringArray(value: unknown): boolean {
  if (!Array.isArray(value)) return false;
  for (let i = 0; i < value.length; i++) if (typeof value[i] !== 'string') return false;
  return true;
}

/** What is wrong with arguments checkArguments() did not pass, as the error. */
function refuseArguments(bytes: unknown, options: unknown): void {
  const refuse = (message: string): never => {
    throw new ElfError(`parseObject: ${message}`, {}, { code: 'BPF_LOAD_ARGUMENT' });
  };
  if (!(bytes instanceof Uint8Array)) refuse(`bytes must be a Uint8Array (the object file's contents), not ${bytes === null ? 'null' : typeof bytes}`);
  if (typeof options !== 'object' || options === null) refuse(`options must be an object, not ${options === null ? 'null' : typeof options}`);
  const { file, convention, sections, ...unknown } = options as Record<string, unknown>;
  const extra = Object.keys(unknown);
  if (extra.length) refuse(`unknown options ${extra.map((k) => `'${k}'`).join(', ')} (known: file, convention, sections)`);
  if (file !== undefined && typeof file !== 'string') refuse(`options.file must be a string, not ${typeof file}`);
  if (sections !== undefined && !(Array.isArray(sections) && sections.every((name) => typeof name === 'string'))) {
    refuse('options.sections must be an array of section names');
  }
  if (convention !== undefined && convention !== 'samples' && convention !== 'tc') {
    refuse(`options.convention must be 'samples' or 'tc', not ${JSON.stringify(convention)}`);
  }
}

function readLicense(section: ElfSection, file: string): string {
  // a loop, not indexOf(): the license is a few bytes, and indexOf() would be one more builtin for them
  let end = -1;
  for (let i = 0; i < section.data.length; i++) {
    if (section.data[i] === 0) {
      end = i;
      break;
    }
  }
  if (end < 0 || end > MAX_LICENSE_LEN) throw badLicense(end, file);
  return isAscii(section.data, 0, end) ? shortAsciiString(section.data, 0, end) : decodeUtf8(section.data.subarray(0, end));
}

function readVersion(section: ElfSection, littleEndian: boolean, file: string): number {
  if (section.data.byteLength !== 4) throw badVersion(section.data.byteLength, file);
  return new DataView(section.data.buffer, section.data.byteOffset, 4).getUint32(0, littleEndian);
}

/*
 * The refusals of readLicense() and readVersion() are made apart from the checks: the checks
 * are then small enough for V8 to compile into parseObject().
 */

/** The error for a license with no NUL (`end` < 0) or longer than the kernel takes. */
function badLicense(end: number, file: string): ElfError {
  if (end < 0) return new ElfError('license string is not NUL-terminated', { file, section: 'license' });
  return new ElfError(`license string is ${end} characters; the kernel takes at most ${MAX_LICENSE_LEN}`, { file, section: 'license' });
}

function badVersion(size: number, file: string): ElfError {
  return new ElfError(`version section is ${size} bytes, expected a 4-byte u32`, { file, section: 'version' });
}
