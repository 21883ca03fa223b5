// .BTF.ext: per ELF section, the func_info (where each function starts and
// its BTF FUNC), line_info (source line of an instruction) and CO-RE relocation
// records clang writes next to .BTF. Offsets in the file are bytes into the
// section; here they are instruction indices, as the kernel takes them.

import { BTF_CORE_RELO_SIZE, BTF_EXT_HEADER_SIZE, BTF_FUNC_INFO_SIZE, BTF_LINE_INFO_SIZE, BTF_MAGIC } from '../../uapi/btf.js';
import type { Btf } from './btf.js';
import { BtfError } from './errors.js';

/** A .BTF.ext header without the CO-RE part (before clang 10 / kernel 5.4 era) */
const EXT_HEADER_V1_SIZE = 24;
const INSN_SIZE = 8;

export interface FuncInfo {
  /** instruction index in its section (or, after rebasing, in the program) */
  insnOff: number;
  /** the BTF FUNC */
  typeId: number;
}

export interface LineInfo {
  insnOff: number;
  /** string offsets in .BTF, as the kernel takes them */
  fileNameOff: number;
  lineOff: number;
  /** the file name and source line they point to */
  fileName: string;
  lineText: string;
  line: number;
  column: number;
}

export interface CoreRelo {
  insnOff: number;
  /** the local (object) BTF type the access starts from */
  typeId: number;
  accessStrOff: number;
  /** "0:1:2" for field relocations, "0" for type ones, the enumerator index for enum ones */
  accessString: string;
  /** BPF_CORE_* */
  kind: number;
}

export interface BtfExt {
  /** records by the name of the ELF section they describe (`xdp`, `.text`, `tracepoint/...`) */
  funcInfo: Map<string, FuncInfo[]>;
  lineInfo: Map<string, LineInfo[]>;
  coreRelos: Map<string, CoreRelo[]>;
  /** the record sizes of the file (at least the kernel's; a newer compiler may write longer records) */
  funcInfoRecSize: number;
  lineInfoRecSize: number;
  coreReloRecSize: number;
}

/** Parse a .BTF.ext against its .BTF (whose string table the section names and lines are in). */
export function parseBtfExt(bytes: Uint8Array, btf: Btf, options: { file?: string } = {}): BtfExt {
  const context = { ...(options.file !== undefined && { file: options.file }), section: '.BTF.ext' };
  const fail = (message: string): never => {
    throw new BtfError(message, context);
  };
  if (bytes.byteLength < EXT_HEADER_V1_SIZE) fail(`${bytes.byteLength} bytes is shorter than the ${EXT_HEADER_V1_SIZE}-byte header`);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const little = btf.littleEndian;
  const magic = view.getUint16(0, little);
  if (magic !== BTF_MAGIC) fail(`magic is 0x${magic.toString(16)}, not 0x${BTF_MAGIC.toString(16)} in the byte order of .BTF`);
  if (bytes[2] !== 1) fail(`version ${bytes[2]}, only 1 exists`);
  if (bytes[3] !== 0) fail(`header flags 0x${bytes[3]!.toString(16)} are not 0`);
  const hdrLen = view.getUint32(4, little);
  if (hdrLen < EXT_HEADER_V1_SIZE || hdrLen > bytes.byteLength) fail(`header length ${hdrLen} is not between ${EXT_HEADER_V1_SIZE} and ${bytes.byteLength}`);
  const u32 = (offset: number): number => view.getUint32(offset, little);

  const string = (offset: number, what: string): string => {
    try {
      return btf.string(offset);
    } catch {
      return fail(`${what}: string offset ${offset} is past the .BTF string table`);
    }
  };

  /** One info part: record size, then per section {name, count, records}. */
  const readPart = <T>(name: string, offset: number, length: number, minRecord: number,
    read: (at: number, section: string, index: number) => T): { records: Map<string, T[]>; recSize: number } => {
    const records = new Map<string, T[]>();
    if (length === 0) return { records, recSize: minRecord };
    const start = hdrLen + offset;
    const end = start + length;
    if (offset % 4 !== 0 || end > bytes.byteLength) fail(`${name} [${offset}, +${length}) is not inside the ${bytes.byteLength - hdrLen} bytes after the header`);
    if (length < 4) fail(`${name} is ${length} bytes, too short for its record size`);
    const recSize = u32(start);
    if (recSize < minRecord || recSize % 4 !== 0) fail(`${name} record size ${recSize} (at least ${minRecord}, a multiple of 4)`);
    let at = start + 4;
    while (at < end) {
      if (at + 8 > end) fail(`${name}: ${end - at} bytes left do not hold a section header`);
      const section = string(u32(at), `${name} section name`);
      const count = u32(at + 4);
      at += 8;
      if (count === 0) fail(`${name} of section '${section}' has no records`);
      if (count * recSize > end - at) fail(`${name} of section '${section}': ${count} records of ${recSize} bytes run past the end`);
      if (records.has(section)) fail(`${name}: section '${section}' appears twice`);
      const list: T[] = new Array(count);
      for (let i = 0; i < count; i++) list[i] = read(at + i * recSize, section, i);
      records.set(section, list);
      at += count * recSize;
    }
    return { records, recSize };
  };

  const insnOff = (at: number, part: string, section: string, index: number): number => {
    const byteOff = u32(at);
    if (byteOff % INSN_SIZE !== 0) fail(`${part} record ${index} of section '${section}': offset ${byteOff} is not on an instruction`);
    return byteOff / INSN_SIZE;
  };

  const func = readPart('func_info', u32(8), u32(12), BTF_FUNC_INFO_SIZE, (at, section, index) => ({
    insnOff: insnOff(at, 'func_info', section, index),
    typeId: checkedType(btf, u32(at + 4), () => fail(`func_info record ${index} of section '${section}' names type ${u32(at + 4)}, past the last id`)),
  }));
  const line = readPart('line_info', u32(16), u32(20), BTF_LINE_INFO_SIZE, (at, section, index) => {
    const fileNameOff = u32(at + 4);
    const lineOff = u32(at + 8);
    const lineCol = u32(at + 12);
    return {
      insnOff: insnOff(at, 'line_info', section, index), fileNameOff, lineOff,
      fileName: string(fileNameOff, `line_info record ${index} of section '${section}' file name`),
      lineText: string(lineOff, `line_info record ${index} of section '${section}' line`),
      line: lineCol >>> 10, column: lineCol & 0x3ff,
    };
  });
  let core = { records: new Map<string, CoreRelo[]>(), recSize: BTF_CORE_RELO_SIZE };
  if (hdrLen >= BTF_EXT_HEADER_SIZE) {
    core = readPart('core_relo', u32(24), u32(28), BTF_CORE_RELO_SIZE, (at, section, index) => {
      const accessStrOff = u32(at + 8);
      return {
        insnOff: insnOff(at, 'core_relo', section, index),
        typeId: checkedType(btf, u32(at + 4), () => fail(`core_relo record ${index} of section '${section}' names type ${u32(at + 4)}, past the last id`)),
        accessStrOff,
        accessString: string(accessStrOff, `core_relo record ${index} of section '${section}' access string`),
        kind: u32(at + 12),
      };
    });
  }
  return {
    funcInfo: func.records, lineInfo: line.records, coreRelos: core.records,
    funcInfoRecSize: func.recSize, lineInfoRecSize: line.recSize, coreReloRecSize: core.recSize,
  };
}

function checkedType(btf: Btf, id: number, fail: () => never): number {
  return id < btf.typeCount ? id : fail();
}

/** Where one piece of code of a program came from and where it landed. */
export interface ProgramPart {
  /** the ELF section the instructions are in (`xdp`, `.text`) */
  section: string;
  /** first instruction of the piece in its section */
  sectionOffset: number;
  /** instructions in the piece */
  count: number;
  /** instruction index in the assembled program where the piece starts */
  landsAt: number;
}

/**
 * The records of one section that fall in [sectionOffset, sectionOffset +
 * count), moved to where that piece lands in the program: what libbpf does to
 * the func/line info and CO-RE records of the program itself (landsAt 0) and
 * of each `.text` subprogram it appends.
 */
export function rebaseRecords<T extends { insnOff: number }>(records: readonly T[] | undefined, part: ProgramPart): T[] {
  if (!records) return [];
  const end = part.sectionOffset + part.count;
  const moved: T[] = [];
  for (const record of records) {
    if (record.insnOff >= part.sectionOffset && record.insnOff < end) {
      moved.push({ ...record, insnOff: record.insnOff - part.sectionOffset + part.landsAt });
    }
  }
  return moved;
}

export interface ProgramExtInfo {
  funcInfo: FuncInfo[];
  lineInfo: LineInfo[];
  coreRelos: CoreRelo[];
}

/**
 * The func_info, line_info and CO-RE records of a program assembled from
 * parts (its own instructions first, then the subprograms appended), each in
 * instruction order as the kernel wants them.
 */
export function programExtInfo(ext: BtfExt, parts: readonly ProgramPart[]): ProgramExtInfo {
  const gather = <T extends { insnOff: number }>(bySection: Map<string, T[]>): T[] =>
    parts.flatMap((part) => rebaseRecords(bySection.get(part.section), part)).sort((a, b) => a.insnOff - b.insnOff);
  return { funcInfo: gather(ext.funcInfo), lineInfo: gather(ext.lineInfo), coreRelos: gather(ext.coreRelos) };
}
