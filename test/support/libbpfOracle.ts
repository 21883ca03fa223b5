import { spawn, spawnSync, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, renameSync, statSync } from 'node:fs';
import { join } from 'node:path';
import {
  BPF_OBJ_NAME_LEN, mapGetFdById, objGetInfoByFd, progGetFdById, type BpfFd,
} from '../../syscall/index.js';
import { bpftoolJson } from './bpftool.js';
import { freshPinRoot, removePinRoot } from './bpffs.js';
import { repoRoot } from './fixtures.js';

/**
 * libbpf 1.x as the reference for modern objects: what it loads (maps, programs, the kernel's
 * translated instructions) and how it relocates CO-RE (bpftool -d's log), in a form a test can
 * compare bpf-load's load with. The C side is test/oracle/libbpf_oracle.c, built here with -lbpf.
 */

const ORACLE_SOURCE = join(repoRoot, 'test', 'oracle', 'libbpf_oracle.c');
const ORACLE_BINARY = join(repoRoot, 'fixtures', 'build', 'libbpf_oracle');

/** Why the oracle cannot run here (for requireFeature), or undefined when it can. */
export function libbpfOracleMissing(): string | undefined {
  if (!existsSync('/usr/include/bpf/libbpf.h')) return 'libbpf-dev is not installed (run: bash scripts/preflight.sh)';
  const cc = spawnSync('cc', ['--version'], { stdio: 'ignore' });
  if (cc.error || cc.status !== 0) return "'cc' is not on PATH";
  const bpftool = spawnSync('bpftool', ['version'], { stdio: 'ignore' });
  if (bpftool.error || bpftool.status !== 0) return "'bpftool' is not on PATH";
  return undefined;
}

/** The oracle's executable, compiled when missing or older than its source (atomically: other test processes may race). */
export function libbpfOracleBinary(): string {
  return compileWithLibbpf(ORACLE_SOURCE, ORACLE_BINARY);
}

/** A C program linked with -lbpf, built into fixtures/build when missing or older than its source. */
export function compileWithLibbpf(source: string, binary: string): string {
  if (existsSync(binary) && statSync(binary).mtimeMs >= statSync(source).mtimeMs) return binary;
  mkdirSync(join(repoRoot, 'fixtures', 'build'), { recursive: true });
  const temporary = `${binary}.${process.pid}.tmp`;
  const built = spawnSync('cc', ['-O2', '-Wall', '-Werror', '-o', temporary, source, '-lbpf'], { encoding: 'utf8' });
  if (built.error) throw built.error;
  if (built.status !== 0) throw new Error(`cc ${source} -lbpf failed:\n${built.stderr}`);
  renameSync(temporary, binary);
  return binary;
}

/** A map as libbpf made it, with what the kernel says of it (BPF_OBJ_GET_INFO_BY_FD). */
export interface LibbpfMap {
  name: string;
  internal: boolean;
  autocreate: boolean;
  created: boolean;
  pin_path?: string;
  pinned?: boolean;
  id?: number;
  type?: number;
  type_name?: string;
  kernel_name?: string;
  key_size?: number;
  value_size?: number;
  max_entries?: number;
  flags?: number;
  map_extra?: number;
  btf_id?: number;
  btf_key_type_id?: number;
  btf_value_type_id?: number;
  btf_vmlinux_value_type_id?: number;
}

export interface LibbpfProgram {
  name: string;
  section: string;
  /** libbpf's program type and expected attach type, numbers and libbpf's names for them */
  type: number;
  type_name: string;
  expected_attach_type: number;
  expected_attach_type_name: string;
  loaded: boolean;
  id?: number;
  kernel_type?: number;
  kernel_name?: string;
  xlated_insns?: number;
  nr_map_ids?: number;
  btf_id?: number;
  nr_func_info?: number;
  nr_line_info?: number;
  attach_btf_id?: number;
  attach_btf_obj_id?: number;
  /** with `attach`: whether bpf_program__attach succeeded, and its error */
  attached?: boolean;
  attach_error?: string;
  /** a program libbpf refused: the errno of the refusal and the tail of libbpf's messages */
  errno?: number;
  error?: string;
  log?: string;
}

/** What the oracle printed. ok false: libbpf refused the object as a whole (at open or with every program). */
export interface LibbpfResult {
  object: string;
  ok: boolean;
  name?: string;
  stage?: 'open' | 'load';
  errno?: number;
  error?: string;
  log?: string;
  kernel_version?: number;
  btf_id?: number;
  maps: LibbpfMap[];
  programs: LibbpfProgram[];
  /** libbpf's warnings during the load that counted (e.g. "Retrying without BTF") */
  warnings: string;
}

export interface LibbpfLoad extends LibbpfResult, AsyncDisposable {
  map(name: string): LibbpfMap;
  program(name: string): LibbpfProgram;
  /** the kernel-translated instructions of a loaded program, map ids replaced by map names */
  xlated(program: string | number): XlatedInsn[];
  /** ends the oracle (closing stdin), which closes the object; removes a pin root the load made */
  close(): Promise<void>;
}

export interface LibbpfLoadOptions {
  /** libbpf's pin_root_path (maps with LIBBPF_PIN_BY_NAME land there); libbpf's default is /sys/fs/bpf */
  pinRoot?: string;
  /** `const volatile` (and other global) variables set before load: integers, bools, char arrays as strings */
  variables?: Readonly<Record<string, string | number | bigint | boolean>>;
  /** attach every loaded program as its section name says (bpf_program__attach); each program says if it attached */
  attach?: boolean;
}

function oracleArgs(objectPath: string, options: LibbpfLoadOptions): string[] {
  const args = [objectPath];
  if (options.pinRoot !== undefined) args.push('--pin-root', options.pinRoot);
  if (options.attach) args.push('--attach');
  for (const [name, value] of Object.entries(options.variables ?? {})) {
    args.push('--set', `${name}=${typeof value === 'boolean' ? Number(value) : String(value)}`);
  }
  return args;
}

/**
 * Load an object with libbpf in a child process that holds it loaded until close(): maps and
 * programs as libbpf and the kernel report them, and which programs libbpf refuses (the oracle
 * loads what it accepts). Throws only when the oracle itself fails; a refused object is ok false.
 */
export async function loadWithLibbpf(objectPath: string, options: LibbpfLoadOptions = {}): Promise<LibbpfLoad> {
  const child = spawn(libbpfOracleBinary(), oracleArgs(objectPath, options), { stdio: ['pipe', 'pipe', 'pipe'] });
  const line = await firstLine(child);
  let result: LibbpfResult;
  try {
    result = JSON.parse(line) as LibbpfResult;
  } catch {
    child.kill();
    throw new Error(`libbpf oracle on ${objectPath} printed no JSON: ${line}`);
  }
  result.maps ??= [];
  result.programs ??= [];
  result.warnings ??= '';
  const exited = new Promise<void>((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) resolve();
    else child.once('exit', () => resolve());
  });
  let closed = false;
  const close = async (): Promise<void> => {
    if (closed) return;
    closed = true;
    child.stdin.end();
    await exited;
  };
  const load: LibbpfLoad = {
    ...result,
    map(name) {
      const found = result.maps.find((m) => m.name === name);
      if (!found) throw new Error(`libbpf made no map '${name}' of ${objectPath} (it has ${result.maps.map((m) => m.name).join(', ')})`);
      return found;
    },
    program(name) {
      const found = result.programs.find((p) => p.name === name);
      if (!found) throw new Error(`libbpf found no program '${name}' in ${objectPath}`);
      return found;
    },
    xlated(program) {
      const id = typeof program === 'number' ? program : load.program(program).id;
      if (id === undefined) throw new Error(`libbpf did not load program '${String(program)}' of ${objectPath}`);
      return xlatedOfLoadedProgram({ id });
    },
    close,
    [Symbol.asyncDispose]: close,
  };
  return load;
}

function firstLine(child: ChildProcessWithoutNullStreams): Promise<string> {
  return new Promise((resolve, reject) => {
    let out = '';
    let err = '';
    const onData = (chunk: Buffer): void => {
      out += chunk.toString('utf8');
      const newline = out.indexOf('\n');
      if (newline >= 0) {
        child.stdout.off('data', onData);
        resolve(out.slice(0, newline));
      }
    };
    child.stdout.on('data', onData);
    child.stderr.on('data', (chunk: Buffer) => (err += chunk.toString('utf8')));
    child.once('error', reject);
    child.once('exit', (code, signal) => {
      if (!out.includes('\n')) reject(new Error(`libbpf oracle exited ${code ?? signal} before answering: ${err}${out}`));
    });
  });
}

// ---- translated instructions ----

/** One instruction as `bpftool prog dump xlated` prints it, map ids replaced by map names. */
export interface XlatedInsn {
  /** e.g. "(18) r1 = map[globals.rodata][0]+24", "(85) call bpf_map_lookup_elem#…" */
  disasm: string;
  /** the function this instruction starts, as bpftool prints it from BTF (subprograms included) */
  proto?: string;
  /** the C source line (line_info) */
  src?: string;
}

interface BpftoolXlated {
  disasm: string;
  proto?: string;
  src?: string;
}

/** A program by kernel id, or by an fd of this process (its id from /proc/self/fdinfo). */
export type ProgramRef = { id: number } | { fd: number };

function programId(ref: ProgramRef): number {
  if ('id' in ref) return ref.id;
  const info = readFileSync(`/proc/self/fdinfo/${ref.fd}`, 'utf8');
  const match = /^prog_id:\s*(\d+)$/m.exec(info);
  if (!match) throw new Error(`fd ${ref.fd} is not a bpf program fd`);
  return Number(match[1]);
}

const mapNameCache = new Map<number, string>();

/** The kernel's name of a map id (what bpftool shows). */
function mapNameOfId(id: number): string {
  let name = mapNameCache.get(id);
  if (name === undefined) {
    name = withFd(mapGetFdById(id), (fd) => mapKernelFacts(fd).kernel_name);
    mapNameCache.set(id, name);
  }
  return name;
}

/** map[id:N] (bpftool's ld_imm64 of a map, and of a map value: map[id:N][0]+off) → map[NAME] */
export function normaliseDisasm(disasm: string, nameOf: (id: number) => string = mapNameOfId): string {
  return disasm.replace(/map\[id:(\d+)\]/g, (_, id: string) => `map[${nameOf(Number(id))}]`);
}

/**
 * `bpftool prog dump xlated id N` of a loaded program (libbpf's or bpf-load's), normalised:
 * map ids become the maps' kernel names, so two loads of one object compare equal.
 */
export function xlatedOfLoadedProgram(ref: ProgramRef): XlatedInsn[] {
  const raw = bpftoolJson<BpftoolXlated[]>('prog', 'dump', 'xlated', 'id', String(programId(ref)));
  return raw.map((insn) => {
    const out: XlatedInsn = { disasm: normaliseDisasm(insn.disasm) };
    if (insn.proto !== undefined) out.proto = insn.proto;
    if (insn.src !== undefined) out.src = insn.src;
    return out;
  });
}

// ---- what the kernel says of a map or program, read the same way for either loader ----

function withFd<T>(fd: BpfFd, use: (fd: number) => T): T {
  try {
    return use(fd.fd);
  } finally {
    fd.close();
  }
}

/** The kernel's facts of a map: what two loads of one object must agree on. */
export interface MapFacts {
  kernel_name: string;
  type: number;
  key_size: number;
  value_size: number;
  max_entries: number;
  flags: number;
  map_extra: bigint;
  has_btf: boolean;
  has_btf_key: boolean;
  has_btf_value: boolean;
  btf_vmlinux_value_type_id: number;
}

function mapKernelFacts(fd: number): MapFacts {
  // struct bpf_map_info (88 bytes): btf ids at 64..76, map_extra at 80
  const info = Buffer.alloc(88);
  objGetInfoByFd(fd, info);
  const name = info.subarray(24, 24 + BPF_OBJ_NAME_LEN);
  const end = name.indexOf(0);
  return {
    kernel_name: name.subarray(0, end < 0 ? name.length : end).toString('latin1'),
    type: info.readUInt32LE(0),
    key_size: info.readUInt32LE(8),
    value_size: info.readUInt32LE(12),
    max_entries: info.readUInt32LE(16),
    flags: info.readUInt32LE(20),
    btf_vmlinux_value_type_id: info.readUInt32LE(44),
    has_btf: info.readUInt32LE(64) !== 0,
    has_btf_key: info.readUInt32LE(68) !== 0,
    has_btf_value: info.readUInt32LE(72) !== 0,
    map_extra: info.readBigUInt64LE(80),
  };
}

export function mapFactsById(id: number): MapFacts {
  return withFd(mapGetFdById(id), mapKernelFacts);
}

/** The kernel's facts of a program, instructions included. */
export interface ProgramFacts {
  kernel_name: string;
  type: number;
  /** the kernel's hash of the instructions as loaded (before verification, map references zeroed) */
  tag: string;
  gpl_compatible: boolean;
  has_btf: boolean;
  nr_func_info: number;
  nr_line_info: number;
  attach_btf_id: number;
  /** names of the maps the program uses, sorted */
  maps: string[];
  xlated: XlatedInsn[];
}

export function programFactsById(id: number): ProgramFacts {
  const facts = withFd(progGetFdById(id), (fd) => {
    // struct bpf_prog_info (232 bytes)
    const info = Buffer.alloc(232);
    objGetInfoByFd(fd, info);
    const name = info.subarray(64, 64 + BPF_OBJ_NAME_LEN);
    const end = name.indexOf(0);
    return {
      kernel_name: name.subarray(0, end < 0 ? name.length : end).toString('latin1'),
      type: info.readUInt32LE(0),
      tag: info.subarray(8, 16).toString('hex'),
      gpl_compatible: (info.readUInt32LE(84) & 1) === 1,
      has_btf: info.readUInt32LE(128) !== 0,
      nr_func_info: info.readUInt32LE(144),
      nr_line_info: info.readUInt32LE(148),
      attach_btf_id: info.readUInt32LE(224),
    };
  });
  const shown = bpftoolJson<{ map_ids?: number[] }>('prog', 'show', 'id', String(id));
  return {
    ...facts,
    maps: (shown.map_ids ?? []).map(mapNameOfId).sort(),
    xlated: xlatedOfLoadedProgram({ id }),
  };
}

/** The bytes of entry 0 of a single-entry array (a data section's map), or undefined for other maps. */
function dataOfMap(id: number, facts: MapFacts): string | undefined {
  if (facts.type !== 2 /* ARRAY */ || facts.max_entries !== 1) return undefined;
  const dump = bpftoolJson<{ value?: string[] }[]>('map', 'dump', 'id', String(id));
  return dump[0]?.value?.map((b) => b.replace(/^0x/, '')).join('');
}

/**
 * The variables of a data section's map (.bss, .data, .rodata, .kconfig…) by name, as bpftool
 * formats them from BTF: `{ hits: 0, last: { pid: 0, tgid: 0, comm: '' } }`. bpftool prints
 * integers as JSON numbers: values past 2^53 lose precision (read those from the bytes).
 */
export function variablesOfMap(id: number): Record<string, unknown> {
  const dump = bpftoolJson<{ formatted?: { value?: Record<string, Record<string, unknown>[]> } }[]>('map', 'dump', 'id', String(id));
  const sections = dump[0]?.formatted?.value ?? {};
  const variables: Record<string, unknown> = {};
  for (const list of Object.values(sections)) for (const entry of list) Object.assign(variables, entry);
  return variables;
}

// ---- the comparison ----

/** bpf-load's side of a comparison: the kernel ids of what it loaded, by map and program name. */
export interface LoadedObjectView {
  /** by the name libbpf gives the map (`flows`, `globals.rodata`, `.rodata.str1.1`…) */
  maps: Readonly<Record<string, number>> | ReadonlyMap<string, number>;
  /** by program (function) name */
  programs: Readonly<Record<string, number>> | ReadonlyMap<string, number>;
}

function entriesOf(table: Readonly<Record<string, number>> | ReadonlyMap<string, number>): [string, number][] {
  return table instanceof Map ? [...table.entries()] : Object.entries(table as Readonly<Record<string, number>>);
}

function describe(value: unknown): string {
  return JSON.stringify(value, (_, v: unknown) => (typeof v === 'bigint' ? v.toString() : v));
}

/**
 * Every difference between what libbpf loaded (`reference`) and another load of the same object:
 * the same maps by name (type, sizes, max_entries, flags, map_extra, BTF ids present, data
 * section contents), the same programs by name (type, tag, func/line info, attach BTF id, maps
 * used, and the kernel-translated instructions with map ids normalised). Programs libbpf refused
 * must be absent on the other side too. An empty list: the loads agree.
 */
export function differencesFromLibbpf(reference: LibbpfResult, other: LoadedObjectView): string[] {
  const differences: string[] = [];
  const otherMaps = new Map(entriesOf(other.maps));
  const otherPrograms = new Map(entriesOf(other.programs));
  for (const map of reference.maps) {
    const id = otherMaps.get(map.name);
    otherMaps.delete(map.name);
    if (!map.created || map.id === undefined) {
      if (id !== undefined) differences.push(`map ${map.name}: libbpf did not create it, the other load did`);
      continue;
    }
    if (id === undefined) {
      differences.push(`map ${map.name}: missing (libbpf created ${map.type_name})`);
      continue;
    }
    const want = mapFactsById(map.id);
    const got = mapFactsById(id);
    for (const key of Object.keys(want) as (keyof MapFacts)[]) {
      if (want[key] !== got[key]) differences.push(`map ${map.name}: ${key} ${describe(got[key])}, libbpf ${describe(want[key])}`);
    }
    const wantData = dataOfMap(map.id, want);
    const gotData = dataOfMap(id, got);
    if (wantData !== gotData) differences.push(`map ${map.name}: contents ${gotData ?? '-'}, libbpf ${wantData ?? '-'}`);
  }
  for (const name of otherMaps.keys()) differences.push(`map ${name}: libbpf has no such map`);
  for (const program of reference.programs) {
    const id = otherPrograms.get(program.name);
    otherPrograms.delete(program.name);
    if (!program.loaded || program.id === undefined) {
      if (id !== undefined) differences.push(`program ${program.name}: libbpf refused it (${program.error ?? 'not loaded'}), the other load has it`);
      continue;
    }
    if (id === undefined) {
      differences.push(`program ${program.name}: missing (libbpf loaded it as ${program.type_name})`);
      continue;
    }
    const want = programFactsById(program.id);
    const got = programFactsById(id);
    for (const key of ['kernel_name', 'type', 'tag', 'gpl_compatible', 'has_btf', 'nr_func_info', 'nr_line_info', 'attach_btf_id'] as const) {
      if (want[key] !== got[key]) differences.push(`program ${program.name}: ${key} ${describe(got[key])}, libbpf ${describe(want[key])}`);
    }
    if (describe(want.maps) !== describe(got.maps)) differences.push(`program ${program.name}: uses maps ${describe(got.maps)}, libbpf ${describe(want.maps)}`);
    differences.push(...xlatedDifferences(program.name, want.xlated, got.xlated));
  }
  for (const name of otherPrograms.keys()) differences.push(`program ${name}: libbpf has no such program`);
  return differences;
}

/** The first instructions that differ (at most 5), each with both sides. */
export function xlatedDifferences(program: string, want: readonly XlatedInsn[], got: readonly XlatedInsn[]): string[] {
  const out: string[] = [];
  if (want.length !== got.length) out.push(`program ${program}: ${got.length} translated instructions, libbpf ${want.length}`);
  for (let i = 0; i < Math.max(want.length, got.length) && out.length < 6; i++) {
    if (want[i]?.disasm !== got[i]?.disasm) {
      out.push(`program ${program}: insn ${i} '${got[i]?.disasm ?? '(none)'}', libbpf '${want[i]?.disasm ?? '(none)'}'`);
    }
  }
  return out;
}

/**
 * Load `objectPath` with libbpf (same options) and compare with what bpf-load loaded of it,
 * while both are loaded. Returns the differences (empty: the same maps, programs and translated
 * instructions) and libbpf's result, for assertions of its own.
 */
export async function compareWithLibbpf(
  objectPath: string,
  loadedByBpfLoad: LoadedObjectView,
  options: LibbpfLoadOptions = {},
): Promise<{ differences: string[]; libbpf: LibbpfResult }> {
  const reference = await loadWithLibbpf(objectPath, options);
  try {
    return { differences: differencesFromLibbpf(reference, loadedByBpfLoad), libbpf: reference };
  } finally {
    await reference.close();
  }
}

/** A LibbpfLoad seen as the other side of a comparison (libbpf against itself, to test the comparison). */
export function viewOfLibbpfLoad(load: LibbpfResult): LoadedObjectView {
  const maps: Record<string, number> = {};
  const programs: Record<string, number> = {};
  for (const map of load.maps) if (map.id !== undefined) maps[map.name] = map.id;
  for (const program of load.programs) if (program.id !== undefined) programs[program.name] = program.id;
  return { maps, programs };
}

// ---- CO-RE: libbpf's log of every relocation ----

/** One candidate libbpf weighed for a relocation: `[114] struct task_struct.pid (0:92 @ offset 1264)`. */
export interface CoreCandidate {
  index: number;
  matching: boolean;
  kind: string;
  spec: string;
}

/** One CO-RE relocation of a program as libbpf logged it, and what it did to the instruction. */
export interface CoreRelocation {
  program: string;
  /** the relocation's number within its program ("relo #N") */
  relo: number;
  /** libbpf's short name of the kind: byte_off, byte_sz, field_exists, signed, lshift_u64, rshift_u64,
   *  local_type_id, target_type_id, type_exists, type_matches, type_size, enumval_exists, enumval_value */
  kind: string;
  /** the local side: `[5] struct task_struct.pid (0:5 @ offset 16)` */
  local: string;
  candidates: CoreCandidate[];
  /** no candidate matched (then the instruction is patched to the "absent" answer or poisoned) */
  noMatch: boolean;
  /** the instruction changed: its index in the program, the instruction class, the operand, old and new */
  patch?: { insn: number; class: string; field: string; from: string; to: string };
  /** libbpf replaced the instruction with an invalid one (the verifier fails the program only if reached) */
  poisoned?: { insn: number };
  /** any other line libbpf printed about this relocation (errors) */
  notes: string[];
}

export interface CoreLog {
  object: string;
  /** bpftool's exit status: non-zero when some program did not load (EPERM…), the log still covers CO-RE */
  status: number;
  /** local types and the target candidates libbpf found for them: `[5] struct task_struct` → `[114] struct task_struct in [vmlinux]` */
  candidates: { local: string; target: string }[];
  relocations: CoreRelocation[];
  /** every `libbpf: … CO-RE …` and `relo #` line, as printed */
  lines: string[];
}

const RELO_LINE = /^libbpf: prog '([^']+)': relo #(\d+): (.*)$/;
const CANDIDATES_LINE = /^libbpf: CO-RE relocating (\[\d+\] .+?): found target candidate (\[\d+\] .+)$/;

/** Parse libbpf's debug log (bpftool -d) into its CO-RE relocations, in the order printed. */
export function parseCoreLog(objectPath: string, text: string, status = 0): CoreLog {
  const log: CoreLog = { object: objectPath, status, candidates: [], relocations: [], lines: [] };
  const open = new Map<string, CoreRelocation>();
  for (const line of text.split('\n')) {
    const candidates = CANDIDATES_LINE.exec(line);
    if (candidates) {
      log.lines.push(line);
      log.candidates.push({ local: candidates[1]!, target: candidates[2]! });
      continue;
    }
    const match = RELO_LINE.exec(line);
    if (!match) {
      if (line.includes('CO-RE')) log.lines.push(line);
      continue;
    }
    log.lines.push(line);
    const [, program = '', reloText = '', rest = ''] = match;
    const relo = Number(reloText);
    const key = `${program}#${relo}`;
    let record = open.get(key);
    const local = /^<(\w+)> (.*)$/.exec(rest);
    if (local && !record) {
      record = { program, relo, kind: local[1]!, local: local[2]!, candidates: [], noMatch: false, notes: [] };
      open.set(key, record);
      log.relocations.push(record);
      continue;
    }
    if (!record) {
      // a relocation whose first line is not its local spec (libbpf errors before it)
      record = { program, relo, kind: '', local: '', candidates: [], noMatch: false, notes: [] };
      open.set(key, record);
      log.relocations.push(record);
    }
    let m: RegExpExecArray | null;
    if ((m = /^(matching|non-matching) candidate #(\d+) <(\w+)> (.*)$/.exec(rest))) {
      record.candidates.push({ index: Number(m[2]), matching: m[1] === 'matching', kind: m[3]!, spec: m[4]! });
    } else if (rest === 'no matching targets found') {
      record.noMatch = true;
    } else if ((m = /^patched insn #(\d+) \(([^)]+)\) (\w+) (\S+) -> (\S+)$/.exec(rest))) {
      record.patch = { insn: Number(m[1]), class: m[2]!, field: m[3]!, from: m[4]!, to: m[5]! };
    } else if ((m = /^substituting insn #(\d+) w\/ invalid insn$/.exec(rest))) {
      record.poisoned = { insn: Number(m[1]) };
    } else {
      record.notes.push(rest);
    }
  }
  return log;
}

/**
 * libbpf's CO-RE log of an object: `bpftool -d prog loadall OBJ DIR` (bpftool's own libbpf 1.x)
 * into a fresh pin directory, removed afterwards, parsed into relocations per program.
 */
export function libbpfCoreLog(objectPath: string): CoreLog {
  const pinDir = join(freshPinRoot('core_log'), 'progs');
  try {
    const result = spawnSync('bpftool', ['-d', 'prog', 'loadall', objectPath, pinDir], { encoding: 'utf8', maxBuffer: 256 << 20 });
    if (result.error) throw result.error;
    return parseCoreLog(objectPath, `${result.stdout}\n${result.stderr}`, result.status ?? -1);
  } finally {
    removePinRoot(join(pinDir, '..'));
  }
}

/** A relocation's outcome in one line, for snapshots and for comparing another loader's CO-RE with libbpf's. */
export function coreOutcome(relocation: CoreRelocation): string {
  const where = `${relocation.program} relo #${relocation.relo} <${relocation.kind}> ${relocation.local}`;
  if (relocation.poisoned) return `${where}: poisoned insn #${relocation.poisoned.insn}`;
  if (relocation.patch) {
    const p = relocation.patch;
    return `${where}: insn #${p.insn} (${p.class}) ${p.field} ${p.from} -> ${p.to}`;
  }
  return `${where}: ${relocation.notes.join('; ') || 'no patch'}`;
}

/** Another loader's answer to one CO-RE relocation: the instruction it changed and to what, or that it poisoned it. */
export interface CorePatch {
  program: string;
  /** the instruction's index in the program, as libbpf counts it (from the program's first instruction in its section) */
  insn: number;
  /** the new immediate/offset (decimal, as libbpf prints it) */
  to?: string | number | bigint;
  poisoned?: boolean;
}

/** The relocations of `log` libbpf acted on (patched or poisoned), each with its instruction and a `program#insn` key. */
export function actedOn(log: CoreLog): { relocation: CoreRelocation; insn: number; key: string }[] {
  const acted: { relocation: CoreRelocation; insn: number; key: string }[] = [];
  for (const relocation of log.relocations) {
    const insn = relocation.patch?.insn ?? relocation.poisoned?.insn;
    if (insn !== undefined) acted.push({ relocation, insn, key: `${relocation.program}#${insn}` });
  }
  return acted;
}

/**
 * Every relocation where `patches` disagree with libbpf's log: a different value, poisoned on one
 * side only, or missing on either side. Empty: the same CO-RE result as libbpf.
 */
export function coreDifferencesFromLibbpf(log: CoreLog, patches: readonly CorePatch[]): string[] {
  const differences: string[] = [];
  const theirs = new Map(patches.map((p) => [`${p.program}#${p.insn}`, p]));
  for (const { relocation, insn, key } of actedOn(log)) {
    const other = theirs.get(key);
    theirs.delete(key);
    const what = `${relocation.program} insn #${insn} (relo #${relocation.relo} <${relocation.kind}> ${relocation.local})`;
    if (!other) differences.push(`${what}: not relocated, libbpf ${relocation.poisoned ? 'poisoned it' : `-> ${relocation.patch!.to}`}`);
    else if (relocation.poisoned && !other.poisoned) differences.push(`${what}: -> ${String(other.to)}, libbpf poisoned it`);
    else if (!relocation.poisoned && other.poisoned) differences.push(`${what}: poisoned, libbpf -> ${relocation.patch!.to}`);
    else if (relocation.patch && String(other.to) !== relocation.patch.to) differences.push(`${what}: -> ${String(other.to)}, libbpf -> ${relocation.patch.to}`);
  }
  for (const other of theirs.values()) differences.push(`${other.program} insn #${other.insn}: relocated, libbpf did not touch it`);
  return differences;
}
