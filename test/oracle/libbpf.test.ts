import { expect } from 'chai';
import { createHash } from 'node:crypto';
import { readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { release } from 'node:os';
import { join } from 'node:path';
import { errnoName } from '../../syscall/index.js';
import { openMapById, openRingBufferReader } from '../../loader/index.js';
import { freshPinRoot, listTree, removePinRoot } from '../support/bpffs.js';
import { bpftoolBytes, bpftoolJson, type BpftoolEntry } from '../support/bpftool.js';
import { repoRoot } from '../support/fixtures.js';
import { requireFeature, requireKernel } from '../support/kernel.js';
import {
  coreDifferencesFromLibbpf, coreOutcome, differencesFromLibbpf, libbpfCoreLog, libbpfOracleMissing, loadWithLibbpf, parseCoreLog,
  variablesOfMap, viewOfLibbpfLoad, type CorePatch, type LibbpfLoad, type LibbpfLoadOptions,
} from '../support/libbpfOracle.js';

/**
 * libbpf 1.x over fixtures/modern: the reference bpf-load's loader of modern objects is checked
 * against. What libbpf accepts and refuses of each object on this kernel, the maps it makes (by
 * name), its CO-RE patches (a snapshot), variables set before load, and that the comparison
 * helper finds no difference between libbpf and itself but finds the ones that are there.
 */

const MODERN = join(repoRoot, 'fixtures', 'modern');
const objectPath = (name: string): string => join(MODERN, name);

interface Expected {
  /** maps libbpf makes, by its names, in its order */
  maps: string[];
  /** programs libbpf loads here */
  loads: string[];
  /** programs it refuses, with the errno */
  refuses?: Record<string, string>;
  /** the object as a whole refused (stage and errno) */
  objectRefused?: string;
}

/** What libbpf 1.1 does with each corpus object on this kernel (Linux 6.18, locked down: no fentry/fexit/lsm). */
const EXPECTED: Record<string, Expected> = {
  'bss_custom.bpf.o': { maps: ['bss_cust.bss', '.bss.custom'], loads: ['fill_custom_bss'] },
  'btf_targets.bpf.o': {
    maps: ['btf_targ.rodata', 'btf_targ.bss'],
    loads: ['dump_task'],
    refuses: { fentry_unlinkat: 'EPERM', fexit_unlinkat: 'EPERM', lsm_file_open: 'EPERM' },
  },
  'btf_maps.bpf.o': {
    maps: [
      'inner_a', 'inner_b', 'outer', 'jumps', 'flows', 'counters', 'events', 'btf_maps_pinned', 'seen', 'outer_hash',
      'btf_maps.data', 'btf_maps.rodata', '.data.tunables', '.rodata.banner', 'btf_maps.bss', '.rodata.cst16',
    ],
    loads: ['tail_target', 'count_flows'],
  },
  'callbacks.bpf.o': { maps: ['numbers', 'callback.bss'], loads: ['run_callbacks'] },
  'core.bpf.o': { maps: ['out'], loads: ['read_task', 'read_more'] },
  'core_kinds.bpf.o': { maps: ['core_kin.bss'], loads: ['answer_core'] },
  'core_task.bpf.o': { maps: ['task_events', 'core_tas.rodata'], loads: ['report_task'] },
  // an extension needs its target program, which a load of the object alone does not give: "attach program FD is not set"
  'freplace.bpf.o': { maps: [], loads: [], objectRefused: 'load EINVAL' },
  'freplace_target.bpf.o': { maps: [], loads: ['xdp_target'] },
  'globals.bpf.o': {
    maps: ['globals.rodata', 'globals.data', '.data.custom', 'globals.bss', '.data.scratch'],
    loads: ['count_calls'],
  },
  'kconfig.bpf.o': { maps: ['kconfig.bss', 'kconfig.kconfig'], loads: ['read_externs'] },
  'ksym.bpf.o': { maps: ['ksym.bss'], loads: ['lookup_self'] },
  'map_in_map.bpf.o': { maps: ['inner_a', 'inner_b', 'outer_array', 'outer_hash'], loads: ['bump_inner'] },
  'maps_btf.bpf.o': {
    maps: [
      'flows', 'sized_array', 'sparse_hash', 'percpu_hash', 'percpu_array', 'lru_hash', 'lru_percpu_hash', 'routes',
      'events', 'perf_events', 'stacks', 'queue', 'seen', '.rodata.cst16',
    ],
    loads: ['touch_every_map'],
  },
  // its kfunc and ksym are in a module no kernel here has: "not found in kernel or module BTFs"
  'module_kfunc.bpf.o': { maps: [], loads: [], objectRefused: 'load EINVAL' },
  'needs_btf.bpf.o': { maps: ['locked', 'per_task'], loads: ['count_locked'] },
  'minimal.bpf.o': { maps: ['calls', 'minimal.bss'], loads: ['count_getppid'] },
  'pin_by_name.bpf.o': { maps: ['shared_counts', 'private_counts'], loads: ['count_by_tgid'] },
  'printk.bpf.o': { maps: ['printk.rodata', '.rodata.str1.1', 'printk.bss'], loads: ['say_hello'] },
  'probes.bpf.o': {
    maps: ['probes.bss'],
    loads: ['enter_unlinkat', 'leave_unlinkat', 'enter_user_function', 'leave_user_function', 'enter_getppid'],
  },
  'prog_array.bpf.o': { maps: ['jump_table', 'prog_arr.rodata', 'prog_arr.bss'], loads: ['tail_zero', 'tail_two', 'dispatch'] },
  'ringbuf_bootstrap.bpf.o': { maps: ['exec_start', 'rb', 'ringbuf_.rodata'], loads: ['handle_exec', 'handle_exit'] },
  'sections.bpf.o': {
    maps: ['sock_map', 'sections.bss'],
    loads: [
      'tracepoint_full', 'tracepoint_short', 'raw_tp_short', 'raw_tp_full', 'xdp_pass', 'xdp_frags_pass', 'tc_ok',
      'classifier_ok', 'socket_all', 'cgroup_skb_allow', 'sock_create_allow', 'sockops_count', 'sk_skb_parser',
      'sk_msg_pass', 'sk_lookup_pass', 'lwt_in_ok', 'flow_dissector_fallback', 'perf_event_sample', 'syscall_run',
      'sk_skb_verdict', 'connect4_allow',
    ],
  },
  // libbpf 1.1 predates tcx/* section names: "missing BPF prog type"
  'tcx.bpf.o': { maps: [], loads: [], objectRefused: 'load EINVAL' },
  'tp_btf.bpf.o': { maps: ['tp_btf.bss'], loads: ['count_getppid_btf', 'on_exec'] },
  'typed_values.bpf.o': { maps: ['per_cpu', 'ring', 'perf', 'table', 'typed_va.rodata', 'typed_va.data', 'typed_va.bss'], loads: ['send_event'] },
  'uprobe.bpf.o': { maps: ['uprobe.bss'], loads: ['on_entry', 'on_return', 'on_named_entry', 'on_named_return', 'on_offset'] },
  // libbpf 1.1 predates uprobe.multi ("missing BPF prog type"); it knows uprobe.s
  'uprobe_usdt.bpf.o': { maps: ['__bpf_usdt_specs', '__bpf_usdt_ip_to_spec_id', 'uprobe_u.bss', 'uprobe_.kconfig'], loads: ['on_tick'] },
  'uprobe_multi.bpf.o': { maps: ['uprobe_m.bss'], loads: ['on_add_sleepable'], refuses: { on_any_target: 'EINVAL', on_add_return: 'EINVAL' } },
};

// BPF_F_* map flags the checks below name
const BPF_F_NO_PREALLOC = 1;
const BPF_F_NO_COMMON_LRU = 2;
const BPF_F_RDONLY_PROG = 0x80;
const BPF_F_MMAPABLE = 0x400;

function corpus(): string[] {
  return readdirSync(MODERN).filter((name) => name.endsWith('.bpf.o')).sort();
}

/** A load with a pin root of its own (pin_by_name must never pin into the shared /sys/fs/bpf). */
async function withLibbpf<T>(name: string, options: LibbpfLoadOptions, use: (load: LibbpfLoad) => Promise<T> | T): Promise<T> {
  const pinRoot = freshPinRoot('oracle');
  const load = await loadWithLibbpf(objectPath(name), { pinRoot, ...options });
  try {
    return await use(load);
  } finally {
    await load.close();
    removePinRoot(pinRoot);
  }
}

describe('libbpf oracle: the modern corpus as libbpf 1.x loads it', function () {
  this.timeout(120000);

  before(function () {
    requireKernel(this);
    requireFeature(this, 'the libbpf oracle (cc, libbpf-dev, bpftool)', libbpfOracleMissing());
  });

  it('knows every object of fixtures/modern', function () {
    expect(corpus()).to.deep.equal(Object.keys(EXPECTED).sort());
  });

  for (const [name, expected] of Object.entries(EXPECTED)) {
    it(`${name}: ${expected.objectRefused ? `refused as a whole (${expected.objectRefused})` : `loads ${expected.loads.length}${expected.refuses ? `, refuses ${Object.keys(expected.refuses).length}` : ''}`}`, async function () {
      await withLibbpf(name, {}, (load) => {
        if (expected.objectRefused) {
          expect(load.ok, JSON.stringify(load)).to.equal(false);
          expect(`${load.stage} ${errnoName(load.errno ?? 0)}`).to.equal(expected.objectRefused);
          return;
        }
        expect(load.ok, load.log).to.equal(true);
        expect(load.maps.map((m) => m.name)).to.deep.equal(expected.maps);
        for (const map of load.maps) expect(map.created, map.name).to.equal(true);
        expect(load.programs.filter((p) => p.loaded).map((p) => p.name)).to.deep.equal(expected.loads);
        const refused = Object.fromEntries(load.programs.filter((p) => !p.loaded).map((p) => [p.name, errnoName(p.errno ?? 0)]));
        expect(refused).to.deep.equal(expected.refuses ?? {});
        for (const program of load.programs.filter((p) => p.loaded)) {
          const xlated = load.xlated(program.name);
          // bpftool prints a 16-byte ld_imm64 as one instruction
          const slots = xlated.length + xlated.filter((insn) => insn.disasm.startsWith('(18)')).length;
          expect(slots, program.name).to.equal(program.xlated_insns);
          expect(xlated.some((insn) => insn.disasm.includes('map[id:')), program.name).to.equal(false);
          // -g objects: libbpf loads their BTF, func_info and line_info
          expect(program.btf_id, program.name).to.be.greaterThan(0);
          expect(program.nr_line_info, program.name).to.be.greaterThan(0);
        }
      });
    });
  }

  it('maps_btf: types, sizes from BTF and from key_size/value_size, flags, map_extra, BTF ids where the kernel takes them', async function () {
    await withLibbpf('maps_btf.bpf.o', {}, (load) => {
      const summary = (name: string): string => {
        const m = load.map(name);
        return `${m.type_name} ${m.key_size}/${m.value_size}x${m.max_entries} flags ${m.flags} extra ${m.map_extra} btf ${m.btf_key_type_id ? 'k' : '-'}${m.btf_value_type_id ? 'v' : '-'}`;
      };
      expect(summary('flows')).to.equal('hash 16/16x1024 flags 0 extra 0 btf kv');
      expect(summary('sized_array')).to.equal('array 4/8x8 flags 0 extra 0 btf --');
      expect(summary('sparse_hash')).to.equal(`hash 4/8x256 flags ${BPF_F_NO_PREALLOC} extra 0 btf kv`);
      expect(summary('lru_hash')).to.equal(`lru_hash 4/8x128 flags ${BPF_F_NO_COMMON_LRU} extra 0 btf kv`);
      expect(summary('routes')).to.equal(`lpm_trie 8/4x16 flags ${BPF_F_NO_PREALLOC} extra 0 btf kv`);
      // libbpf 1.1 gives the kernel no BTF for a ring buffer or perf event array
      expect(summary('events')).to.equal('ringbuf 0/0x4096 flags 0 extra 0 btf --');
      expect(summary('perf_events')).to.match(/^perf_event_array 4\/4x\d+ flags 0 extra 0 btf --$/);
      expect(summary('stacks')).to.equal('stack_trace 4/1016x64 flags 0 extra 0 btf --');
      expect(summary('queue')).to.equal('queue 0/4x16 flags 0 extra 0 btf --');
      expect(summary('seen')).to.equal('bloom_filter 0/4x64 flags 0 extra 3 btf -v');
    });
  });

  it('globals: data sections become array maps (.rodata read-only for programs, all mmapable) and --set reaches .rodata', async function () {
    await withLibbpf('globals.bpf.o', { variables: { target_tgid: 4242, step: 7, greeting: 'hey', enabled: true } }, (load) => {
      expect(load.map('globals.rodata').flags).to.equal(BPF_F_RDONLY_PROG | BPF_F_MMAPABLE);
      for (const name of ['globals.data', 'globals.bss', '.data.custom', '.data.scratch']) {
        expect(load.map(name).flags, name).to.equal(BPF_F_MMAPABLE);
      }
      expect(variablesOfMap(load.map('globals.rodata').id!)).to.deep.equal({ target_tgid: 4242, step: 7, greeting: 'hey', enabled: true });
      expect(variablesOfMap(load.map('globals.data').id!)).to.deep.equal({ calls: 100, sign: -1 });
      expect(variablesOfMap(load.map('.data.custom').id!)).to.deep.equal({ custom_counter: 42 });
    });
  });

  it('globals, attached: a getppid() of this process counts `step` into hits and records the caller', async function () {
    await withLibbpf('globals.bpf.o', { variables: { target_tgid: process.pid, step: 3 }, attach: true }, (load) => {
      expect(load.program('count_calls').attached).to.equal(true);
      void process.ppid; // getppid(2)
      const bss = variablesOfMap(load.map('globals.bss').id!) as { hits: number; last: { pid: number; tgid: number; comm: string } };
      expect(bss.hits).to.be.at.least(3);
      expect(bss.hits % 3).to.equal(0);
      expect(bss.last.tgid).to.equal(process.pid);
    });
  });

  it('core_kinds, attached: what the program saw equals what libbpf patched in', async function () {
    const log = libbpfCoreLog(objectPath('core_kinds.bpf.o'));
    const patched = (relo: number): number => Number(log.relocations.find((r) => r.relo === relo)!.patch!.to);
    await withLibbpf('core_kinds.bpf.o', { attach: true }, (load) => {
      void process.ppid;
      const got = (variablesOfMap(load.map('core_kin.bss').id!) as { got: Record<string, number> }).got;
      expect(got['runs']).to.be.greaterThan(0);
      expect(got['pid_offset']).to.equal(patched(0));
      expect(got['pid_size']).to.equal(4);
      expect(got['state_exists']).to.equal(0);
      expect(got['flavor_state_exists']).to.equal(1);
      expect(got['prio_signed']).to.equal(1);
      expect(got['flags_signed']).to.equal(0);
      expect(got['task_exists']).to.equal(1);
      expect(got['missing_type_exists']).to.equal(0);
      expect(got['task_id_target']).to.be.greaterThan(0);
      expect(got['missing_id_target']).to.equal(0);
      expect(got['ringbuf_exists']).to.equal(1);
      expect(got['ringbuf_value']).to.equal(27);
      expect(got['not_real_exists']).to.equal(0);
      expect(got['old_state']).to.equal(0);
    });
  });

  it('core_task, attached: a getppid() of this process reports its pid, tgid and parent to the ring buffer', async function () {
    await withLibbpf('core_task.bpf.o', { variables: { only_tgid: process.pid }, attach: true }, (load) => {
      const map = openMapById(load.map('task_events').id!);
      const reader = openRingBufferReader(map);
      try {
        const ppid = process.ppid; // getppid(2), from the main thread
        const events = reader.readAvailable().map(({ data }) => ({
          pid: data.readUInt32LE(0), tgid: data.readUInt32LE(4), ppid: data.readUInt32LE(8), leader: data.readUInt32LE(12),
          comm: data.subarray(16, 32).toString('latin1').replace(/\0.*$/s, ''),
        }));
        expect(events.length).to.be.at.least(1);
        expect(events[0]).to.deep.equal({
          pid: process.pid, tgid: process.pid, ppid, leader: process.pid, comm: readFileSync('/proc/self/comm', 'utf8').trim(),
        });
      } finally {
        reader.close();
        map.close();
      }
    });
  });

  it('kconfig, attached: LINUX_KERNEL_VERSION, CONFIG_* and an untyped ksym as libbpf resolves them', async function () {
    await withLibbpf('kconfig.bpf.o', { attach: true }, (load) => {
      void process.ppid;
      const seen = (variablesOfMap(load.map('kconfig.bss').id!) as { seen: Record<string, number | string> }).seen;
      const [major = 0, minor = 0, patch = 0] = release().split(/[.-]/).map(Number);
      expect(seen['kernel_version']).to.equal((major << 16) + (minor << 8) + Math.min(patch, 255));
      expect(seen['bpf_syscall']).to.equal(1);
      expect(seen['not_real']).to.equal(0);
      // bpftool's formatted u64 is a JSON number, past 2^53 here: read the bytes (offset 56 of struct kconfig_seen)
      const raw = bpftoolJson<BpftoolEntry[]>('map', 'dump', 'id', String(load.map('kconfig.bss').id));
      const kallsyms = /^([0-9a-f]+) T schedule$/m.exec(readFileSync('/proc/kallsyms', 'utf8'));
      expect(bpftoolBytes(raw[0]!.value!).readBigUInt64LE(56)).to.equal(BigInt(`0x${kallsyms![1]}`));
    });
  });

  it('pin_by_name: the map lands at <pin root>/<name>, and a second load reuses it', async function () {
    const pinRoot = freshPinRoot('oracle_pins');
    try {
      const first = await loadWithLibbpf(objectPath('pin_by_name.bpf.o'), { pinRoot });
      const second = await loadWithLibbpf(objectPath('pin_by_name.bpf.o'), { pinRoot });
      try {
        expect(listTree(pinRoot)).to.deep.equal(['shared_counts']);
        expect(first.map('shared_counts').pin_path).to.equal(join(pinRoot, 'shared_counts'));
        expect(second.map('shared_counts').id).to.equal(first.map('shared_counts').id);
        expect(second.map('private_counts').id).to.not.equal(first.map('private_counts').id);
      } finally {
        await first.close();
        await second.close();
      }
    } finally {
      removePinRoot(pinRoot);
    }
  });

  it('prog_array and map_in_map: libbpf fills .values after load', async function () {
    await withLibbpf('prog_array.bpf.o', {}, (load) => {
      expect(load.warnings).to.include('Retrying without BTF');
      const slots = bpftoolJson<BpftoolEntry[]>('map', 'dump', 'id', String(load.map('jump_table').id));
      expect(slots.map((s) => s.key[0])).to.deep.equal(['0x00', '0x02']);
    });
    await withLibbpf('map_in_map.bpf.o', {}, (load) => {
      const slots = bpftoolJson<BpftoolEntry[]>('map', 'dump', 'id', String(load.map('outer_array').id));
      const ids = slots.map((s) => bpftoolBytes(s.value ?? []).readUInt32LE(0));
      expect(ids).to.deep.equal([load.map('inner_a').id, load.map('inner_b').id]);
    });
  });
});


// ---- CO-RE: libbpf's patches, a snapshot per object ----

const SNAPSHOT = join(repoRoot, 'test', 'oracle', 'core-log.snapshot.json');

interface CoreSnapshot {
  /** the kernel BTF the full lines were taken on: elsewhere only the object-side part is compared */
  kernel: string;
  vmlinux_sha256: string;
  objects: Record<string, string[]>;
}

/** What of a relocation's outcome comes from the object alone: target ids and patched values removed. */
function objectSide(line: string): string {
  return line.replace(/ -> \S+$/, ' -> ?');
}

describe('libbpf oracle: CO-RE patches (bpftool -d prog loadall)', function () {
  this.timeout(120000);

  before(function () {
    requireKernel(this);
    requireFeature(this, 'the libbpf oracle (cc, libbpf-dev, bpftool)', libbpfOracleMissing());
  });

  it('parses every kind of line libbpf prints for a relocation', function () {
    const log = parseCoreLog('x.o', [
      "libbpf: CO-RE relocating [5] struct task_struct: found target candidate [114] struct task_struct in [vmlinux]",
      "libbpf: prog 'p': relo #0: <byte_off> [5] struct task_struct.pid (0:5 @ offset 16)",
      "libbpf: prog 'p': relo #0: matching candidate #0 <byte_off> [114] struct task_struct.pid (0:92 @ offset 1264)",
      "libbpf: prog 'p': relo #0: patched insn #2 (ALU/ALU64) imm 16 -> 1264",
      "libbpf: prog 'p': relo #1: <byte_off> [11] struct task_struct___pre514.state (0:0 @ offset 0)",
      "libbpf: prog 'p': relo #1: non-matching candidate #0 <byte_off> [114] struct task_struct (0 @ offset 0)",
      "libbpf: prog 'p': relo #1: no matching targets found",
      "libbpf: prog 'p': relo #1: substituting insn #78 w/ invalid insn",
      "libbpf: prog 'p': relo #2: <target_type_id> [5] struct task_struct",
      "libbpf: prog 'p': relo #2: patched insn #52 (LDIMM64) imm64 5 -> 114",
      "libbpf: prog 'p': relo #3: <byte_off> [5] struct task_struct.pid (0:5 @ offset 16)",
      "libbpf: prog 'p': relo #3: patched insn #9 (LDX/ST/STX) off 16 -> 1264",
    ].join('\n'));
    expect(log.candidates).to.deep.equal([{ local: '[5] struct task_struct', target: '[114] struct task_struct in [vmlinux]' }]);
    expect(log.relocations.map(coreOutcome)).to.deep.equal([
      'p relo #0 <byte_off> [5] struct task_struct.pid (0:5 @ offset 16): insn #2 (ALU/ALU64) imm 16 -> 1264',
      'p relo #1 <byte_off> [11] struct task_struct___pre514.state (0:0 @ offset 0): poisoned insn #78',
      'p relo #2 <target_type_id> [5] struct task_struct: insn #52 (LDIMM64) imm64 5 -> 114',
      'p relo #3 <byte_off> [5] struct task_struct.pid (0:5 @ offset 16): insn #9 (LDX/ST/STX) off 16 -> 1264',
    ]);
    expect(log.relocations[1]!.noMatch).to.equal(true);
    expect(log.relocations[0]!.candidates).to.deep.equal([
      { index: 0, matching: true, kind: 'byte_off', spec: '[114] struct task_struct.pid (0:92 @ offset 1264)' },
    ]);
  });

  it('core_kinds: one relocation of every kind clang 14 emits, a poisoned read of an absent field', function () {
    const log = libbpfCoreLog(objectPath('core_kinds.bpf.o'));
    expect(log.status).to.equal(0);
    expect(new Set(log.relocations.map((r) => r.kind))).to.deep.equal(new Set([
      'byte_off', 'byte_sz', 'field_exists', 'signed', 'lshift_u64', 'rshift_u64', 'type_exists', 'type_size',
      'local_type_id', 'target_type_id', 'enumval_exists', 'enumval_value',
    ]));
    expect(log.relocations.filter((r) => r.poisoned).map((r) => r.local)).to.deep.equal(['[11] struct task_struct___pre514.state (0:0 @ offset 0)']);
    expect(log.relocations.every((r) => r.patch !== undefined || r.poisoned !== undefined)).to.equal(true);
    // a ___flavor type resolves by its essential name
    expect(log.candidates.some((c) => c.local.endsWith('struct task_struct___flavor') && c.target.includes('struct task_struct in [vmlinux]'))).to.equal(true);
  });

  it("coreDifferencesFromLibbpf: none for libbpf's own patches, one per relocation that differs", function () {
    const log = libbpfCoreLog(objectPath('core_kinds.bpf.o'));
    const same: CorePatch[] = log.relocations.map((r) =>
      r.poisoned ? { program: r.program, insn: r.poisoned.insn, poisoned: true } : { program: r.program, insn: r.patch!.insn, to: r.patch!.to },
    );
    expect(coreDifferencesFromLibbpf(log, same)).to.deep.equal([]);
    const wrong = same.map((p) => (p.insn === 2 ? { ...p, to: 16 } : p)).filter((p) => !p.poisoned);
    expect(coreDifferencesFromLibbpf(log, [...wrong, { program: 'answer_core', insn: 1000, to: 1 }])).to.deep.equal([
      `answer_core insn #2 (relo #0 <byte_off> [5] struct task_struct.pid (0:5 @ offset 16)): -> 16, libbpf -> ${log.relocations[0]!.patch!.to}`,
      'answer_core insn #78 (relo #27 <byte_off> [11] struct task_struct___pre514.state (0:0 @ offset 0)): not relocated, libbpf poisoned it',
      'answer_core insn #1000: relocated, libbpf did not touch it',
    ]);
  });

  it('every object: the patches equal the snapshot (whole lines on the kernel it was taken on)', function () {
    const vmlinux = createHash('sha256').update(readFileSync('/sys/kernel/btf/vmlinux')).digest('hex');
    const current: CoreSnapshot = { kernel: release(), vmlinux_sha256: vmlinux, objects: {} };
    for (const name of corpus()) {
      const relocations = libbpfCoreLog(objectPath(name)).relocations;
      if (relocations.length > 0) current.objects[name] = relocations.map(coreOutcome);
    }
    if (process.env['BPF_LOAD_UPDATE_CORE_SNAPSHOT'] === '1') {
      writeFileSync(SNAPSHOT, `${JSON.stringify(current, null, 1)}\n`);
      return;
    }
    const snapshot = JSON.parse(readFileSync(SNAPSHOT, 'utf8')) as CoreSnapshot;
    expect(Object.keys(current.objects)).to.deep.equal(Object.keys(snapshot.objects));
    for (const name of Object.keys(snapshot.objects)) {
      if (snapshot.vmlinux_sha256 === vmlinux) {
        expect(current.objects[name], name).to.deep.equal(snapshot.objects[name]);
      } else {
        expect(current.objects[name]!.map(objectSide), name).to.deep.equal(snapshot.objects[name]!.map(objectSide));
      }
    }
  });
});

// ---- the comparison helper, on libbpf against itself ----

describe('libbpf oracle: differencesFromLibbpf', function () {
  this.timeout(120000);

  before(function () {
    requireKernel(this);
    requireFeature(this, 'the libbpf oracle (cc, libbpf-dev, bpftool)', libbpfOracleMissing());
  });

  for (const [name, expected] of Object.entries(EXPECTED)) {
    if (expected.objectRefused) continue;
    it(`${name}: two libbpf loads agree on every map, program and translated instruction`, async function () {
      await withLibbpf(name, {}, async (first) => {
        await withLibbpf(name, {}, (second) => {
          expect(differencesFromLibbpf(first, viewOfLibbpfLoad(second))).to.deep.equal([]);
        });
      });
    });
  }

  it('finds what differs: a variable set differently, a missing program, an extra map, a refused program loaded', async function () {
    await withLibbpf('globals.bpf.o', { variables: { step: 1 } }, async (reference) => {
      await withLibbpf('globals.bpf.o', { variables: { step: 2 } }, (other) => {
        const view = viewOfLibbpfLoad(other);
        const programs = {} as Record<string, number>;
        const maps = { ...(view.maps as Record<string, number>), extra: (view.maps as Record<string, number>)['globals.bss']! };
        const differences = differencesFromLibbpf(reference, { maps, programs });
        expect(differences.filter((d) => d.startsWith('map globals.rodata: '))).to.deep.equal([
          'map globals.rodata: contents 0000000000000000020000000000000068656c6c6f00000001, libbpf 0000000000000000010000000000000068656c6c6f00000001',
        ]);
        expect(differences).to.include('program count_calls: missing (libbpf loaded it as tracepoint)');
        expect(differences).to.include('map extra: libbpf has no such map');
      });
    });
    await withLibbpf('btf_targets.bpf.o', {}, async (reference) => {
      await withLibbpf('tp_btf.bpf.o', {}, (other) => {
        const differences = differencesFromLibbpf(reference, { maps: {}, programs: { fentry_unlinkat: other.program('on_exec').id! } });
        expect(differences).to.include('program fentry_unlinkat: libbpf refused it (Operation not permitted), the other load has it');
      });
    });
  });

  it('finds a translated instruction that differs', async function () {
    // two programs of one object that differ in one constant: tracepoint_full and tracepoint_short
    await withLibbpf('sections.bpf.o', {}, (load) => {
      const differences = differencesFromLibbpf(
        { ...load, maps: [], programs: [load.program('tracepoint_full')] },
        { maps: {}, programs: { tracepoint_full: load.program('tracepoint_short').id! } },
      );
      expect(differences.some((d) => /^program tracepoint_full: insn \d+ /.test(d)), differences.join('\n')).to.equal(true);
      expect(differences.some((d) => d.startsWith('program tracepoint_full: kernel_name')), differences.join('\n')).to.equal(true);
    });
  });
});
