import type { Options } from 'yargs';
import { listOption, numberOption } from './command.js';

/**
 * The options of loading an object, as the commands that load one (the
 * default command, `events`) declare them to yargs. Definitions only: what
 * they do is in the modules the commands import when they run.
 */

/**
 * The codec names `--key` / `--value` take: what codecByName() knows (a unit
 * test holds the two equal), written here so that --help and parsing need
 * none of the map code.
 */
export const CODEC_NAMES = ['u8', 'u16', 'u32', 'u64', 'i8', 'i16', 'i32', 'i64', 'hex', 'bytes', 'string'] as const;

/** The longest a Node timer waits (2^31-1 ms, about 24.8 days), in whole seconds. */
export const MAX_DURATION_SECONDS = Math.floor((2 ** 31 - 1) / 1000);

export const CONVENTION_OPTIONS = {
  convention: {
    type: 'string',
    choices: ['samples', 'tc'],
    default: 'samples',
    describe: 'struct in the "maps" section: samples (bpf_map_def, 16-28+ bytes) or tc (iproute2 struct bpf_elf_map)',
  },
} as const satisfies Record<string, Options>;

export const PIN_OPTIONS = {
  pin: {
    type: 'string',
    requiresArg: true,
    describe:
      'pin every map at DIR/maps/<name> and every program at DIR/progs/<name> on bpffs (mounted at /sys/fs/bpf if ' +
      'needed); pins outlive this command: remove them with `unpin DIR`',
  },
  force: { type: 'boolean', default: false, describe: 'replace pins that exist already instead of refusing' },
  'reuse-pinned': {
    type: 'boolean',
    implies: 'pin',
    describe:
      'use a map already pinned under --pin DIR when its type, sizes, max_entries and flags match, instead of creating ' +
      'it; the programs pinned there by an earlier run are replaced',
  },
  bpffs: {
    type: 'string',
    requiresArg: true,
    describe: 'bpffs directory for --convention tc pins (<bpffs>/tc/globals, <bpffs>/tc/<sha1>); default /sys/fs/bpf',
  },
} as const satisfies Record<string, Options>;

/** libbpf-style objects: global variables set before the load, and where pins by name go. */
export const VARIABLE_OPTIONS = {
  set: {
    type: 'string',
    array: true,
    requiresArg: true,
    describe:
      'set a global variable (a `const volatile` of .rodata, or one of .data/.bss) before the load: NAME=VALUE, ' +
      'repeatable; integers (0x hex too), true/false, strings for char arrays, hex bytes for structs',
  },
  'pin-root': {
    type: 'string',
    requiresArg: true,
    describe: 'where maps defined with LIBBPF_PIN_BY_NAME are pinned, as <DIR>/<name> (libbpf\'s pin_root_path; default /sys/fs/bpf)',
  },
} as const satisfies Record<string, Options>;

export const PROGRAM_OPTIONS = {
  programs: {
    type: 'string',
    requiresArg: true,
    describe: 'load only these programs: a comma-separated list of function or section names (--programs a,b; or repeat --programs)',
    coerce: listOption,
  },
  type: {
    type: 'string',
    requiresArg: true,
    describe:
      'program type of sections whose names say none (tc\'s free names, <id>/<key> tail calls, a section named with ' +
      '--programs): cls (sched_cls, the default with --convention tc), act (sched_act), or a type name (lwt_xmit…)',
  },
  'log-level': {
    type: 'number',
    requiresArg: true,
    describe: 'verifier log level (1 or 2) for every program: the logs go to stderr (with --json, into each program)',
    // the kernel's log_level is a mask: 1 basic, 2 every instruction, 4 statistics
    coerce: numberOption('log-level', (value) =>
      Number.isInteger(value) && value >= 1 && value <= 7 ? undefined : `--log-level must be 1, 2 (or a mask up to 7), not '${value}'`),
  },
  btf: {
    type: 'string',
    requiresArg: true,
    describe:
      "a BTF file for CO-RE, externs and BTF attach targets instead of the running kernel's /sys/kernel/btf/vmlinux " +
      '(raw BTF as btfhub ships, or a vmlinux with .BTF)',
  },
  'freplace-target': {
    type: 'string',
    array: true,
    requiresArg: true,
    describe: 'the loaded program a freplace/FUNC program extends: PROG=PIN (a pinned program) or PROG=id:N (a program id); repeatable',
    coerce: freplaceTargetOption,
  },
} as const satisfies Record<string, Options>;

/** `--freplace-target PROG=PIN|id:N`, each checked: program name → pin path or `{ id }`. */
export function freplaceTargetOption(value: unknown): Record<string, string | { id: number }> {
  const targets: Record<string, string | { id: number }> = {};
  for (const item of (Array.isArray(value) ? value : [value]).map(String)) {
    const equals = item.indexOf('=');
    const program = item.slice(0, Math.max(equals, 0));
    const target = item.slice(equals + 1);
    if (equals <= 0 || target === '') throw new Error(`--freplace-target takes PROG=PIN or PROG=id:N, not '${item}'`);
    if (target.startsWith('id:')) {
      const id = Number(target.slice(3));
      if (!/^[0-9]+$/.test(target.slice(3)) || id <= 0 || id > 0xffffffff) throw new Error(`--freplace-target ${program}: '${target}' is no program id (id:N, N a positive integer)`);
      targets[program] = { id };
    } else {
      targets[program] = target;
    }
  }
  return targets;
}

export function durationOption(describe: string): Options {
  return {
    type: 'number',
    requiresArg: true,
    describe,
    // a timer holds at most 2^31-1 ms; a longer one would fire at once
    coerce: numberOption('duration', (value) =>
      Number.isFinite(value) && value >= 0 && value <= MAX_DURATION_SECONDS
        ? undefined
        : `--duration must be a number of seconds from 0 to ${MAX_DURATION_SECONDS}, not '${value}'`),
  };
}

export const ATTACH_OPTIONS = {
  attach: {
    type: 'boolean',
    default: false,
    describe:
      'attach what the section names say (tracepoint/CAT/NAME, raw_tracepoint/NAME, uprobe/BINARY:FUNCTION, ' +
      'uprobe.multi/BINARY:PATTERN, usdt/BINARY:PROVIDER:NAME, fentry/FUNCTION…; kprobes fail clearly where the kernel has none), then wait for ' +
      'Ctrl-C (or --duration) before detaching',
  },
  duration: durationOption('with --attach or --tc: stay attached this many seconds, then detach and exit'),
} as const satisfies Record<string, Options>;

export const TC_OPTIONS = {
  tc: {
    type: 'string',
    requiresArg: true,
    describe:
      'after the load, attach at IFNAME:DIRECTION[:PROGRAM] (ingress or egress; PROGRAM by function or section name, ' +
      'default the only program that is no tail call), then wait for Ctrl-C (or --duration) and detach; repeat --tc for more',
    coerce: (values: unknown) => (Array.isArray(values) ? values : [values]).map((value) => parseTcTarget(String(value))),
  },
  'tc-mode': {
    type: 'string',
    choices: ['tcx', 'netlink'],
    describe: 'with --tc: a TCX link, or a clsact qdisc + cls_bpf filter as tc makes; default TCX where the kernel has it',
  },
  export: {
    type: 'string',
    requiresArg: true,
    describe:
      "after the load, send every map fd to the Unix datagram socket UDS_FILE in tc's format, as " +
      '`tc filter … bpf obj X.o export UDS_FILE` does (`tc exec bpf import UDS_FILE run CMD` receives them)',
  },
} as const satisfies Record<string, Options>;

/** One --tc: where to attach which program. */
export interface TcTarget {
  ifname: string;
  direction: 'ingress' | 'egress';
  /** function or section name; undefined: the object's only program that is no tail call */
  program: string | undefined;
}

function parseTcTarget(value: string): TcTarget {
  const [ifname = '', direction = '', ...rest] = value.split(':');
  if (ifname === '' || (direction !== 'ingress' && direction !== 'egress')) {
    throw new Error(`--tc takes IFNAME:DIRECTION[:PROGRAM] with DIRECTION ingress or egress, not '${value}'`);
  }
  const program = rest.join(':');
  return { ifname, direction, program: program === '' ? undefined : program };
}

/** What the load options parse to (yargs gives both spellings; these are the camelCase ones). */
export interface LoadArgs {
  file: string;
  json: boolean;
  verbose: boolean;
  dryRun?: boolean;
  convention: 'samples' | 'tc';
  pin?: string;
  force?: boolean;
  reusePinned?: boolean;
  bpffs?: string;
  programs?: string[];
  type?: string;
  set?: string[];
  pinRoot?: string;
  logLevel?: number;
  btf?: string;
  /** the load command: print what CO-RE did to each program */
  core?: boolean;
  freplaceTarget?: Record<string, string | { id: number }>;
  attach?: boolean;
  duration?: number;
  tc?: TcTarget[];
  tcMode?: 'tcx' | 'netlink';
  export?: string;
}
