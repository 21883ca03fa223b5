import { expect } from 'chai';
import { parseObject, ElfError, programOrder, relocateProgram, type ProgramSpec } from '../../elf/index.js';
import { readElf, type ElfFile } from '../../elf/elfFile.js';
import { BPF_CALL, BPF_LD_IMM64, insnAt, relocationTypeName, R_BPF_64_32 } from '../../elf/instructions.js';
import { tailCallIndex } from '../../elf/programs.js';
import { runningKernelVersion } from '../../loader/load/loadPrograms.js';
import { fixtureBytes } from '../support/fixtures.js';

/** [section, function, prog type, instructions loaded] per fixture, in prog_fd[] order */
const EXPECTED_PROGRAMS: Record<string, [string, string, number, number][]> = {
  'sockex1_kern.o': [['socket1', 'bpf_prog1', 1, 15]],
  'xdp1_kern.o': [['xdp1', 'xdp_prog1', 6, 48]],
  'syscount_kern.o': [['tracepoint/raw_syscalls/sys_enter', 'count_sys_enter', 5, 23]],
  'socket_count_kern.o': [['socket', 'count_packets', 1, 22]],
  'tracing_kern.o': [
    ['tracepoint/syscalls/sys_enter_getuid', 'on_getuid', 5, 12],
    ['raw_tracepoint/sys_enter', 'on_sys_enter', 17, 11],
  ],
  'kprobe_kern.o': [
    ['kprobe/do_sys_openat2', 'on_open', 2, 6],
    ['kretprobe/do_sys_openat2', 'on_open_return', 2, 2],
    ['kprobe/1', 'open_slot1', 2, 2],
  ],
  'tailcall_kern.o': [
    ['socket', 'dispatch', 1, 9],
    ['socket/3', 'odd', 1, 13],
    ['socket/0', 'even', 1, 13],
  ],
  // the section's own instructions plus the .text functions each one reaches
  'calls_kern.o': [
    ['socket/calls1', 'first', 1, 6 + 12 + 11],
    ['socket/calls2', 'second', 1, 14 + 4 + 12 + 11],
  ],
  'cgroup_skb_kern.o': [
    ['cgroup/skb/egress', 'count_egress', 8, 12],
    ['cgroup/skb/ingress', 'count_ingress', 8, 11],
  ],
  'verifier_reject_kern.o': [
    ['socket', 'fine', 1, 2],
    ['socket_unchecked', 'unchecked_lookup', 1, 9],
  ],
  'no_license_kern.o': [['socket', 'print_len', 1, 10]],
  'static_maps_kern.o': [['socket', 'prog', 1, 20]],
  'map_def16_kern.o': [['socket1', 'count_protocols', 1, 13]],
  'no_maps_kern.o': [['socket', 'accept_all', 1, 2]],
  // every prefix of the convention; the numbers are enum bpf_prog_type of include/uapi/linux/bpf.h
  'prog_types_kern.o': [
    ['socket_prefix_only', 'on_socket', 1, 2], // SOCKET_FILTER
    ['kprobe/do_nanosleep', 'on_kprobe', 2, 2], // KPROBE
    ['kretprobe/do_nanosleep', 'on_kretprobe', 2, 2],
    ['tracepoint/syscalls/sys_enter_getpid', 'on_tracepoint', 5, 2], // TRACEPOINT
    ['raw_tracepoint/sys_exit', 'on_raw_tracepoint', 17, 2], // RAW_TRACEPOINT
    ['xdp_pass', 'on_xdp', 6, 2], // XDP
    ['perf_event', 'on_perf_event', 7, 2], // PERF_EVENT
    ['cgroup/skb', 'on_cgroup_skb', 8, 2], // CGROUP_SKB
    ['cgroup/sock', 'on_cgroup_sock', 9, 2], // CGROUP_SOCK
    ['sockops', 'on_sockops', 13, 2], // SOCK_OPS
    ['sk_skb/stream_verdict', 'on_sk_skb', 14, 2], // SK_SKB
    ['sk_msg', 'on_sk_msg', 16, 2], // SK_MSG
    ['lwt_in', 'on_lwt_in', 10, 2], // LWT_IN
    ['lwt_out', 'on_lwt_out', 11, 2], // LWT_OUT
    ['lwt_xmit', 'on_lwt_xmit', 12, 2], // LWT_XMIT
    ['lwt_seg6local', 'on_lwt_seg6local', 19, 2], // LWT_SEG6LOCAL
    ['classifier', 'on_classifier', 3, 2], // SCHED_CLS
    ['action', 'on_action', 4, 2], // SCHED_ACT
  ],
};

function parse(file: string, bytes: Uint8Array = fixtureBytes(file)) {
  return parseObject(bytes, { file });
}

/** The programs in prog_fd[] order. */
function programsOf(file: string, bytes?: Uint8Array): ProgramSpec[] {
  return programOrder(parse(file, bytes));
}

function elfOf(file: string, bytes: Uint8Array = fixtureBytes(file)): ElfFile {
  return readElf(bytes, file);
}

function mapRefs(program: ProgramSpec): [number, string][] {
  return program.relocations.flatMap((r) => (r.kind === 'map' ? [[r.insn, r.map] as [number, string]] : []));
}

function expectElfError(run: () => unknown, ...patterns: RegExp[]): ElfError {
  let caught: unknown;
  try {
    run();
  } catch (error) {
    caught = error;
  }
  expect(caught, 'an ElfError').to.be.instanceOf(ElfError);
  for (const pattern of patterns) expect((caught as Error).message).to.match(pattern);
  return caught as ElfError;
}

/** File offsets of the relocation entries of `.rel<section>`, to hand-patch them. */
function relocationEntryOffset(bytes: Uint8Array, file: string, section: string, entry: number): number {
  const elf = elfOf(file, bytes);
  const target = elf.sections.find((s) => s.name === section)!;
  const rel = elf.relocations.get(target.index)!.section;
  return rel.offset + entry * 16;
}

function sectionOffset(bytes: Uint8Array, file: string, section: string): number {
  return elfOf(file, bytes).sections.find((s) => s.name === section)!.offset;
}

describe('elf: program sections, relocations and bpf-to-bpf calls (no privileges)', () => {
  for (const [file, expected] of Object.entries(EXPECTED_PROGRAMS)) {
    it(`${file}: programs in section order with type, function name and instruction count`, () => {
      const spec = parse(file);
      expect(programOrder(spec).map((p) => [p.section, p.name, p.type, p.insns.byteLength / 8])).to.deep.equal(expected);
      for (const program of programOrder(spec)) {
        // every map reference sits on an LD_IMM64 and names a map of the object
        for (const relocation of program.relocations) {
          const insn = insnAt(program.insns, relocation.insn);
          if (relocation.kind === 'map') {
            expect(insn.code, `${program.section} insn ${relocation.insn}`).to.equal(BPF_LD_IMM64);
            expect(spec.maps[relocation.map]!.name).to.equal(relocation.map);
          } else {
            expect(insn.code).to.equal(BPF_CALL);
          }
        }
      }
    });
  }

  it('static maps: the section symbol plus the offset in imm picks the right map (bpf_load.c took map #0 for both)', () => {
    const program = programsOf('static_maps_kern.o')[0]!;
    expect(mapRefs(program)).to.deep.equal([
      [7, 'second'],
      [12, 'first'],
    ]);
    expect(program.relocations.map((r) => r.symbol)).to.deep.equal(['maps+28', 'maps+0']);
  });

  it('bpf-to-bpf calls: only the .text functions a program reaches are appended, and calls point at them', () => {
    const [first, second] = programsOf('calls_kern.o') as [ProgramSpec, ProgramSpec];
    expect(first.subprograms).to.deep.equal([
      { name: 'add_total', insn: 6, count: 12 },
      { name: 'remember', insn: 18, count: 11 },
    ]);
    expect(second.subprograms.map((s) => s.name)).to.deep.equal(['only_second', 'add_total', 'remember']);
    // the call in first (insn 3) lands on add_total's first instruction
    const call = insnAt(first.insns, 3);
    expect(call.src).to.equal(1);
    expect(3 + call.imm + 1).to.equal(6);
    // add_total's own call to remember (resolved by the compiler, no relocation) is re-pointed
    const inner = first.relocations.find((r) => r.kind === 'call' && r.target === 'remember')!;
    expect(inner.insn).to.equal(6 + 2);
    expect(inner.insn + insnAt(first.insns, inner.insn).imm + 1).to.equal(18);
    // a map reference inside .text (the static map in remember) moved with its function
    expect(mapRefs(first)).to.deep.equal([
      [6 + 7, 'totals'],
      [18 + 6, 'last_len'],
    ]);
    for (const r of second.relocations.filter((r) => r.kind === 'call')) {
      const target = second.subprograms.find((s) => s.name === (r as { target: string }).target)!;
      expect(r.insn + insnAt(second.insns, r.insn).imm + 1, `call at ${r.insn}`).to.equal(target.insn);
    }
    expect(first.relocations.find((r) => r.kind === 'call')!.relocationType).to.equal(relocationTypeName(R_BPF_64_32));
  });

  it('tail-call slots and attach targets come from the section name', () => {
    const tail = programsOf('tailcall_kern.o').map((p) => [p.section, p.tailCall?.slot]);
    expect(tail).to.deep.equal([
      ['socket', undefined],
      ['socket/3', 3],
      ['socket/0', 0],
    ]);
    const kprobes = programsOf('kprobe_kern.o').map((p) => [p.kind, p.attachTarget, p.tailCall?.slot]);
    expect(kprobes).to.deep.equal([
      ['kprobe', 'do_sys_openat2', undefined],
      ['kretprobe', 'do_sys_openat2', undefined],
      ['kprobe', undefined, 1],
    ]);
    expect(programsOf('tracing_kern.o').map((p) => p.attachTarget)).to.deep.equal(['syscalls/sys_enter_getuid', 'sys_enter']);
    // socket1 is a socket program, not slot 1: bpf_load.c wanted a slash
    expect(programsOf('sockex1_kern.o')[0]!.tailCall).to.equal(undefined);
    // only the prefixes bpf_load.c read a slot from: elsewhere /N is part of the name
    const slots = ['socket', 'kprobe/', 'kretprobe/', 'sockops', 'sk_skb', 'sk_msg'].map((prefix) =>
      tailCallIndex(prefix, prefix.endsWith('/') ? '7' : '/7'),
    );
    expect(slots).to.deep.equal([7, 7, 7, 7, 7, 7]);
    const notSlots = ['xdp', 'perf_event', 'cgroup/skb', 'classifier', 'action', 'tracepoint/', 'raw_tracepoint/'].map((prefix) =>
      tailCallIndex(prefix, prefix.endsWith('/') ? '1' : '/1'),
    );
    expect(notSlots).to.deep.equal(new Array(7).fill(undefined));
  });

  it('an executable section with an unknown prefix is skipped with a warning naming it', () => {
    const spec = parse('verifier_reject_kern.o');
    expect(programOrder(spec).map((p) => p.section)).to.not.include('not_a_program_type');
    expect(spec.warnings).to.have.length(1);
    expect(spec.warnings[0]).to.match(/sec 'not_a_program_type': executable section with no known program prefix, skipped/);
  });

  describe('refused relocations name section, instruction and relocation type', () => {
    it('a map symbol this object does not define (extern)', () => {
      const error = expectElfError(
        () => parse('invalid_reloc_extern_kern.o'),
        /sec 'socket': prog 'use_missing': insn 4: relocation 0 \(R_BPF_64_64\) against 'missing_map'/,
        /not defined in this object/,
      );
      expect(error.section).to.equal('socket');
    });

    it('global data (.bss) instead of a map', () => {
      expectElfError(
        () => parse('invalid_reloc_global_data_kern.o'),
        /sec 'socket': prog 'count_global': insn 1: relocation 0 \(R_BPF_64_64\) against 'packets_seen'/,
        /section '\.bss', not 'maps'/,
      );
    });

    it('a map relocation on an instruction that is not an LD_IMM64', () => {
      const bytes = new Uint8Array(fixtureBytes('static_maps_kern.o'));
      const at = sectionOffset(bytes, 'static_maps_kern.o', 'socket') + 7 * 8;
      expect(bytes[at]).to.equal(BPF_LD_IMM64);
      bytes[at] = 0xb7; // mov64 imm
      expectElfError(
        () => parse('static_maps_kern.o', bytes),
        /sec 'socket': prog 'prog': insn 7: relocation 0 \(R_BPF_64_64\) against 'maps\+28': instruction has code 0xb7, not an LD_IMM64/,
      );
    });

    it('an offset in maps that is not the start of a map', () => {
      const bytes = new Uint8Array(fixtureBytes('static_maps_kern.o'));
      const at = sectionOffset(bytes, 'static_maps_kern.o', 'socket') + 7 * 8 + 4;
      expect(bytes[at]).to.equal(28);
      bytes[at] = 12;
      expectElfError(
        () => parse('static_maps_kern.o', bytes),
        /insn 7: relocation 0 \(R_BPF_64_64\) against 'maps\+12': offset 12 in 'maps' is not the start of a map definition \(maps at 0, 28\)/,
      );
    });

    it('a relocation type programs do not use', () => {
      const bytes = new Uint8Array(fixtureBytes('static_maps_kern.o'));
      const at = relocationEntryOffset(bytes, 'static_maps_kern.o', 'socket', 1);
      bytes[at + 8] = 3; // R_BPF_64_ABS32
      expectElfError(() => parse('static_maps_kern.o', bytes), /insn 12: relocation 1 \(R_BPF_64_ABS32\)/, /only R_BPF_64_64/);
    });

    it('the null symbol, and an offset past the section', () => {
      const bytes = new Uint8Array(fixtureBytes('static_maps_kern.o'));
      const at = relocationEntryOffset(bytes, 'static_maps_kern.o', 'socket', 0);
      bytes.fill(0, at + 12, at + 16); // symbol 0
      expectElfError(() => parse('static_maps_kern.o', bytes), /insn 7: relocation 0 \(R_BPF_64_64\)/, /not defined in this object/);
      const past = new Uint8Array(fixtureBytes('static_maps_kern.o'));
      new DataView(past.buffer).setUint32(relocationEntryOffset(past, 'static_maps_kern.o', 'socket', 0), 4096, true);
      expectElfError(() => parse('static_maps_kern.o', past), /relocation 0 \(R_BPF_64_64\): insn 512 is past the end of the section \(20 instructions\)/);
    });

    it('a call relocation on an instruction that is not a bpf-to-bpf call', () => {
      const bytes = new Uint8Array(fixtureBytes('calls_kern.o'));
      const at = sectionOffset(bytes, 'calls_kern.o', 'socket/calls1') + 3 * 8 + 1;
      bytes[at] = 0x00; // src_reg 0: a helper call
      expectElfError(() => parse('calls_kern.o', bytes), /sec 'socket\/calls1': prog 'first': insn 3: relocation 0 \(R_BPF_64_32\) against 'add_total'/, /not a bpf-to-bpf call/);
    });
  });

  it('random corruption of program and relocation bytes gives an ElfError or a spec, never another error', () => {
    const original = fixtureBytes('calls_kern.o');
    const targets = elfOf('calls_kern.o').sections.filter((s) => s.name.startsWith('socket') || s.name.startsWith('.rel') || s.name === '.text');
    let seed = 7;
    const random = (n: number) => {
      seed = (seed * 1103515245 + 12345) & 0x7fffffff;
      return seed % n;
    };
    let refused = 0;
    for (let round = 0; round < 400; round++) {
      const bytes = new Uint8Array(original);
      const section = targets[random(targets.length)]!;
      for (let k = 0; k < 3; k++) bytes[section.offset + random(section.size)] = random(256);
      try {
        parse('calls_kern.o', bytes);
      } catch (error) {
        expect(error, (error as Error).stack).to.be.instanceOf(ElfError);
        refused++;
      }
    }
    expect(refused).to.be.greaterThan(0);
  });

  describe('relocateProgram', () => {
    it('patches a copy: src_reg BPF_PSEUDO_MAP_FD, imm the fd the callback gives, upper half zero', () => {
      const program = programsOf('static_maps_kern.o')[0]!;
      const before = new Uint8Array(program.insns);
      const asked: string[] = [];
      const fds: Record<string, number> = { first: 100, second: 101 };
      const out = relocateProgram(program, (name) => {
        asked.push(name);
        return fds[name]!;
      });
      expect(asked).to.deep.equal(['second', 'first']);
      expect(program.insns).to.deep.equal(before);
      for (const [insn, fd] of [
        [7, 101],
        [12, 100],
      ] as const) {
        expect(insnAt(out, insn)).to.include({ code: BPF_LD_IMM64, src: 1, imm: fd });
        expect(insnAt(out, insn + 1).imm).to.equal(0);
      }
      // nothing else changed
      const diff = [...out].flatMap((b, i) => (b !== before[i] ? [Math.floor(i / 8)] : []));
      expect([...new Set(diff)]).to.deep.equal([7, 12]);
    });

    it('a callback that throws leaves nothing half-patched behind', () => {
      const program = programsOf('static_maps_kern.o')[0]!;
      const before = new Uint8Array(program.insns);
      expect(() =>
        relocateProgram(program, (name) => {
          if (name === 'first') throw new Error('no fd');
          return 5;
        }),
      ).to.throw('no fd');
      expect(program.insns).to.deep.equal(before);
    });
  });

  it('the default kern_version is KERNEL_VERSION of the running kernel, the sublevel capped at 255', () => {
    expect(runningKernelVersion('6.18.44-fc-v657')).to.equal((6 << 16) + (18 << 8) + 44);
    expect(runningKernelVersion('4.9.337')).to.equal((4 << 16) + (9 << 8) + 255);
    expect(runningKernelVersion('5.10')).to.equal((5 << 16) + (10 << 8));
    expect(runningKernelVersion()).to.be.greaterThan(0);
  });
});
