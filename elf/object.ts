import { decodeUtf8 } from './byteReader.js';
import { readElf, type ElfFile } from './elfFile.js';
import { ElfError } from './errors.js';
import { readMapDefs } from './mapDefs.js';
import { readPrograms } from './programs.js';
import type { ObjectSpec, MapConvention } from './types.js';

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
  const { programs, warnings, skippedSections } = readPrograms(elf, file, maps, mapsSection, {
    convention,
    sections: options.sections ?? [],
  });
  return {
    file,
    littleEndian: elf.littleEndian,
    convention,
    license: readLicense(elf, file),
    kernVersion: readVersion(elf, file),
    mapsSection,
    maps,
    programs,
    skippedSections,
    warnings,
    elf,
  };
}

function checkArguments(bytes: unknown, options: unknown): void {
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

function readLicense(elf: ElfFile, file: string): string | undefined {
  const section = elf.sections.find((s) => s.name === 'license');
  if (!section) return undefined;
  const end = section.data.indexOf(0);
  if (end < 0) throw new ElfError('license string is not NUL-terminated', { file, section: 'license' });
  if (end > MAX_LICENSE_LEN) {
    throw new ElfError(`license string is ${end} characters; the kernel takes at most ${MAX_LICENSE_LEN}`, {
      file,
      section: 'license',
    });
  }
  return decodeUtf8(section.data.subarray(0, end));
}

function readVersion(elf: ElfFile, file: string): number | undefined {
  const section = elf.sections.find((s) => s.name === 'version');
  if (!section) return undefined;
  if (section.data.byteLength !== 4) {
    throw new ElfError(`version section is ${section.data.byteLength} bytes, expected a 4-byte u32`, {
      file,
      section: 'version',
    });
  }
  return new DataView(section.data.buffer, section.data.byteOffset, 4).getUint32(0, elf.littleEndian);
}
