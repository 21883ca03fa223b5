import { expect } from 'chai';
import { execFileSync, spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import {
  BPF_MAP_TYPE, attachCgroup, detachXdp, attachKprobe, attachPerfEvent, attachRawTracepoint, attachSocketFilter, attachTc, attachTracepoint, attachXdp,
  coreRelocationsOf, cstring, errorCategory, exportMaps, isBpfLoadError, loadBpfFile, openRawPacketSocket, loadBpfObject, loadObjectSpec, openPerfEventReader, openRingBufferReader, openMapById, openMapFd, openPinnedMap, parseObject, readObjectSpec, u32, u64, unpinDirectory, validateSpec,
} from '../../loader/index.js';
import { fixturePath, fixtureBytes } from '../support/fixtures.js';
import { requireKernel, requireTool } from '../support/kernel.js';
import { createTestMap } from '../support/maps.js';
import { udpSocket } from '../../syscall/index.js';
import { uniqueName } from '../support/unique.js';

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

/** Run `call`; it must throw a bpf-load error with code BPF_LOAD_ARGUMENT whose message matches. */
async function expectArgumentError(call: () => unknown, message: RegExp): Promise<void> {
  let error: unknown;
  try {
    await call();
  } catch (e) {
    error = e;
  }
  expect(error, `no error for ${message}`).to.be.instanceOf(Error);
  expect(isBpfLoadError(error), `${(error as Error).name}: ${(error as Error).message}`).to.equal(true);
  expect((error as { code: string }).code, (error as Error).message).to.equal('BPF_LOAD_ARGUMENT');
  expect((error as Error).message).to.match(message);
}

describe('kernel: every public function checks its arguments (bpf-load errors naming them)', () => {
  before(function () {
    requireKernel(this);
  });

  it('load options: a wrong type, an unknown value or a misspelt option is refused, never ignored', async () => {
    const file = fixturePath('socket_count_kern.o');
    await expectArgumentError(() => loadBpfFile(file, { programs: 42 as never }), /loadBpfFile: options\.programs must be a non-empty array of program names or a predicate function, not 42/);
    await expectArgumentError(() => loadBpfFile(file, { convention: 'bogus' as never }), /options\.convention must be one of 'samples', 'tc', not 'bogus'/);
    await expectArgumentError(() => loadBpfFile(file, { pinDir: '' }), /options\.pinDir must be a non-empty string, not ''/);
    await expectArgumentError(() => loadBpfFile(file, { pinDIr: '/sys/fs/bpf/x' } as never), /unknown options 'pinDIr'/);
    await expectArgumentError(() => loadBpfFile(file, { logLevel: 9 }), /options\.logLevel must be an integer from 1 to 7, not 9/);
    await expectArgumentError(() => loadBpfFile(42 as never), /loadBpfFile: path must be a non-empty string or a file: URL, not 42/);
    await expectArgumentError(() => parseObject(null as never), /parseObject: bytes must be a Uint8Array/);
    await expectArgumentError(() => parseObject(fixtureBytes('socket_count_kern.o'), { convention: 'bogus' as never }), /options\.convention must be 'samples' or 'tc'/);
    await expectArgumentError(() => loadBpfObject(null as never), /loadBpfObject: spec must be an ObjectSpec/);
    await expectArgumentError(() => validateSpec(null as never), /^validateSpec: spec must be an ObjectSpec from parseObject\(\) or readObjectSpec\(\), not null$/);
  });

  it('map arguments: update flags are never coerced; typed() and setInner() name what is wrong', () => {
    using map = createTestMap({ type: BPF_MAP_TYPE.HASH, key: 4, value: 8, max: 8 });
    const typed = map.typed(u32, u64);
    for (const flags of [Number.NaN, 'x', 1e300, 2 ** 32 + 2, -1, 1.5]) {
      expect(() => typed.update(1, 1n, flags as number), String(flags)).to.throw(/update: flags must be an unsigned 32-bit integer/)
        .with.property('code', 'BPF_LOAD_ARGUMENT');
    }
    expect(typed.count(), 'nothing was written under a coerced flag').to.equal(0);
    expect(() => map.typed(null as never, null as never)).to.throw(/typed: key must be a codec/).with.property('code', 'BPF_LOAD_ARGUMENT');
    using outer = createTestMap({ type: BPF_MAP_TYPE.ARRAY_OF_MAPS, key: 4, value: 4, max: 2, inner: map });
    expect(() => outer.setInner(0, -1)).to.throw(/setInner: inner must be a BpfMap or an open map fd \(an integer >= 0\), not -1/)
      .with.property('code', 'BPF_LOAD_ARGUMENT');
    expect(() => outer.setInner(-3, map)).to.throw(/key must be an index/).with.property('code', 'BPF_LOAD_ARGUMENT');
    expect(() => cstring(0)).to.throw(/cstring: size must be a positive integer/);
    for (const [call, message] of [
      [() => typed.updateBatch(5 as never), /updateBatch: entries must be an iterable/],
      [() => typed.updateBatch([5] as never), /updateBatch: entries\[0\] must be a \[key, value\] pair, not 5/],
      [() => typed.deleteBatch(null as never), /deleteBatch: keys must be an iterable/],
      [() => map.pin(''), /pin: path must be a non-empty string/],
      [() => openPinnedMap(''), /openPinnedMap: path must be a non-empty string/],
      [() => openPinnedMap('/sys/fs/bpf/x', { readonly: true } as never), /openPinnedMap: unknown options 'readonly'/],
      [() => openMapFd(-1), /openMapFd: fd must be an integer from 0/],
      [() => openMapById(0), /openMapById: id must be an integer from 1/],
      [() => unpinDirectory(''), /unpinDirectory: directory must be a non-empty string/],
    ] as const) {
      expect(call).to.throw(message).with.property('code', 'BPF_LOAD_ARGUMENT');
    }
  });

  it('attach functions: programs, targets and options are checked before anything is attached', async () => {
    const object = await loadBpfFile(fixturePath('socket_count_kern.o'));
    try {
      const program = object.programs[0]!;
      await expectArgumentError(() => object.map(42 as never), /map: name must be a non-empty string, not 42/);
      await expectArgumentError(() => object.program(undefined as never), /program: name must be a non-empty string, not undefined/);
      await expectArgumentError(() => attachSocketFilter(program, 'lo' as never), /attachSocketFilter: socket must be a socket fd .* not 'lo' \(to filter what an interface receives, pass openRawPacketSocket\("lo"\)\)/);
      await expectArgumentError(() => attachSocketFilter({} as never, 3), /attachSocketFilter: program must be a BpfProgram or a program fd/);
      await expectArgumentError(() => attachXdp(program, ''), /attachXdp: ifname must be an interface name or a positive ifindex, not ''/);
      await expectArgumentError(() => attachXdp(program, 'lo', { mode: 'fast' as never }), /options\.mode must be one of 'skb', 'drv', 'hw', not 'fast'/);
      await expectArgumentError(() => attachXdp(program, 'lo', { via: 'ioctl' as never }), /options\.via must be one of 'link', 'netlink'/);
      await expectArgumentError(() => attachCgroup(program, 42 as never), /attachCgroup: cgroupPath must be a non-empty string, not 42/);
      await expectArgumentError(() => attachCgroup(program, '/sys/fs/cgroup', { attachType: 'egress' as never }), /options\.attachType must be one of 'inet_ingress'/);
      await expectArgumentError(() => attachTracepoint(program, 'syscalls', 'sys_enter_getuid', { vai: 'link' } as never), /attachTracepoint: unknown options 'vai'/);
      await expectArgumentError(() => attachRawTracepoint(program, ''), /attachRawTracepoint: name must be a non-empty string/);
    } finally {
      object.close();
    }
  });

  it("a local-storage map gets the kernel's real requirements as its hint, not 'max_entries is 0'", async () => {
    const spec = parseObject(fixtureBytes('map_def16_kern.o'), { file: 'map_def16_kern.o' });
    for (const [maxEntries, hint] of [[0, /needs map_flags BPF_F_NO_PREALLOC \(1\) and BTF/], [16, /must have max_entries 0 .*not 16/]] as const) {
      let error: unknown;
      try {
        loadBpfObject(spec, {
          fixupMap: (map) => {
            if (map.index === 0) Object.assign(map.def, { type: BPF_MAP_TYPE.SK_STORAGE, max_entries: maxEntries, map_flags: 1 });
          },
        }).close();
      } catch (e) {
        error = e;
      }
      expect((error as Error).message).to.match(hint);
      expect((error as Error).message).to.not.include('(max_entries is 0)');
    }
  });

  it('attachTc, attachPerfEvent, the event readers and exportMaps check their arguments too', async function () {
    requireTool(this, 'tc');
    using tracing = await loadBpfFile(fixturePath('tracing_kern.o'));
    const program = tracing.program('on_getuid');
    await expectArgumentError(() => attachTc(undefined as never, 'lo', 'ingress'), /attachTc: program must be/);
    await expectArgumentError(() => attachTc(program, '', 'ingress'), /attachTc: ifname must be an interface name or a positive ifindex/);
    await expectArgumentError(() => attachTc(program, 'lo', 'sideways' as never), /attachTc: direction must be 'ingress' or 'egress'/);
    await expectArgumentError(() => attachTc(program, 'lo', 'ingress', { mod: 'tcx' } as never), /attachTc: unknown options 'mod'/);
    await expectArgumentError(() => attachTc(program, 'lo', 'ingress', { directAction: 'no' as never }), /options\.directAction must be a boolean/);
    // refused before anything touches the interface: no clsact qdisc appears on lo
    const qdiscsBefore = spawnSync('tc', ['qdisc', 'show', 'dev', 'lo'], { encoding: 'utf8' }).stdout;
    await expectArgumentError(() => attachTc(program, 'lo', 'ingress'), /the program is tracepoint, not sched_cls \(tc's hooks run classifiers/);
    expect(spawnSync('tc', ['qdisc', 'show', 'dev', 'lo'], { encoding: 'utf8' }).stdout).to.equal(qdiscsBefore);

    await expectArgumentError(() => attachPerfEvent(program, { samplePeriod: 'abc' as never }), /options\.samplePeriod must be a whole number >= 0/);
    await expectArgumentError(() => attachPerfEvent(program, { config: 1.5 }), /options\.config must be a whole number >= 0/);
    await expectArgumentError(() => attachPerfEvent(program, { bogus: 1 } as never), /attachPerfEvent: unknown options 'bogus'/);
    await expectArgumentError(() => openPerfEventReader(null as never), /the map must be a BpfMap/);
    await expectArgumentError(() => openRingBufferReader(5 as never), /the map must be a BpfMap/);
    await expectArgumentError(() => exportMaps(null as never, '/tmp/x.sock'), /exportMaps: object must be a loaded object/);
    await expectArgumentError(() => loadObjectSpec(fixturePath('tracing_kern.o'), null as never), /loadObjectSpec: options must be/);
  });

  it('coreRelocationsOf: the spec and every option checked, and the programs it names chosen as a load chooses them', async () => {
    const spec = readObjectSpec(fixturePath('samples-modern/bootstrap.bpf.o'));
    await expectArgumentError(() => coreRelocationsOf(null as never), /coreRelocationsOf: spec must be an ObjectSpec/);
    await expectArgumentError(() => coreRelocationsOf(fixturePath('samples-modern/bootstrap.bpf.o') as never), /coreRelocationsOf: spec must be an ObjectSpec/);
    await expectArgumentError(() => coreRelocationsOf(spec, null as never), /coreRelocationsOf: options must be an object, not null/);
    await expectArgumentError(() => coreRelocationsOf(spec, { program: ['handle_exit'] } as never), /coreRelocationsOf: unknown options 'program'/);
    // a string is not searched for as a substring of the names, nor a number called .includes() on
    await expectArgumentError(() => coreRelocationsOf(spec, { programs: 'handle_exit' as never }), /options\.programs must be a non-empty array of program names, not 'handle_exit'/);
    await expectArgumentError(() => coreRelocationsOf(spec, { programs: 5 as never }), /options\.programs must be a non-empty array of program names, not 5/);
    await expectArgumentError(() => coreRelocationsOf(spec, { btfPath: 1 as never }), /options\.btfPath must be a non-empty string, not 1/);
    await expectArgumentError(() => coreRelocationsOf(spec, { onWarning: 'log' as never }), /options\.onWarning must be a function/);
    // a name that is no program: refused as loadBpfFile refuses it, not an empty answer
    expect(() => coreRelocationsOf(spec, { programs: ['handle_exti'] })).to.throw(/options\.programs names 'handle_exti', which is no program of this object/)
      .with.property('code', 'BPF_LOAD_INPUT');
    expect(Object.keys(coreRelocationsOf(spec, { programs: ['tp/sched/sched_process_exit'] }))).to.deep.equal(['handle_exit']);
  });

  it('detachXdp says what it was doing to which interface; an interface that does not exist is input, like a missing file', () => {
    expect(() => detachXdp('nosuchif0')).to.throw(/^detach XDP from nosuchif0: no such interface: if_nametoindex\('nosuchif0'\): ENODEV/)
      .with.property('code', 'BPF_LOAD_INPUT');
    expect(() => openRawPacketSocket('nosuchif0')).to.throw(/^no network interface 'nosuchif0': if_nametoindex\('nosuchif0'\): ENODEV \(see `ip link`\)$/)
      .with.property('code', 'BPF_LOAD_INPUT');
  });
});

describe('kernel: an attach function refuses a program of another type before the kernel answers EINVAL', () => {
  before(function () {
    requireKernel(this);
  });

  it("names the program's type and the hook's, as an argument error, never blaming the kernel's age", async () => {
    const all = ['on_socket', 'on_kprobe', 'on_tracepoint', 'on_raw_tracepoint', 'on_xdp', 'on_perf_event', 'on_cgroup_skb', 'on_sockops'];
    using object = await loadBpfFile(fixturePath('prog_types_kern.o'), { programs: all });
    const socket = udpSocket('127.0.0.1');
    try {
      const filter = object.program('on_socket');
      const tracepoint = object.program('on_tracepoint');
      const cases: [() => unknown, RegExp][] = [
        [() => attachXdp(filter, 'lo'), new RegExp(`^${escapeRegExp(fixturePath('prog_types_kern.o'))}: sec 'socket_prefix_only': prog 'on_socket': ` +
          `attach XDP program to 'lo': the program is socket_filter, not xdp \\(attachXdp runs XDP programs: a SEC\\("xdp…"\\) section, or one loaded with programType 'xdp'\\)$`)],
        // a bare fd says its type when asked
        [() => attachXdp(filter.fd, 'lo', { via: 'netlink' }), /^attach XDP program to 'lo': the program is socket_filter, not xdp \(/],
        [() => attachTc(object.program('on_xdp'), 'lo', 'ingress'), /attach tc program to lo ingress: the program is xdp, not sched_cls \(/],
        [() => attachTracepoint(filter, 'syscalls', 'sys_enter_getuid'), /attach to tracepoint syscalls\/sys_enter_getuid: the program is socket_filter, not tracepoint \(/],
        [() => attachRawTracepoint(tracepoint, 'sys_enter'), /attach to raw tracepoint sys_enter: the program is tracepoint, not raw_tracepoint or raw_tracepoint_writable \(/],
        [() => attachKprobe(tracepoint, 'do_nanosleep'), /attach kprobe to do_nanosleep: the program is tracepoint, not kprobe \(/],
        [() => attachPerfEvent(tracepoint, { cpu: 0 }), /the program is tracepoint, not perf_event \(a sampling event runs SEC\("perf_event"\) programs\)/],
        [() => attachSocketFilter(object.program('on_xdp'), socket), /attach socket filter to socket fd \d+: the program is xdp, not socket_filter \(/],
        [() => attachCgroup(object.program('on_sockops'), '/sys/fs/cgroup', { attachType: 'inet_egress' }), /the program is sock_ops, not cgroup_skb \(the inet_egress hook runs SEC\("cgroup\/skb…"\) programs\)/],
        [() => attachCgroup(object.program('on_cgroup_skb'), '/sys/fs/cgroup', { attachType: 'sock_ops' }), /the program is cgroup_skb, not sock_ops \(/],
      ];
      for (const [attach, message] of cases) {
        let error: unknown;
        try {
          attach();
        } catch (e) {
          error = e;
        }
        expect(error, String(message)).to.be.instanceOf(Error);
        expect((error as Error).message).to.match(message);
        expect((error as Error).message).to.not.match(/older than|kernel/);
        expect(error).to.include({ code: 'BPF_LOAD_ARGUMENT', errno: undefined });
      }
    } finally {
      socket.close();
    }
  });
});

describe('kernel: what a missing pin or an unmounted tracefs is (the category decides the exit status)', () => {
  before(function () {
    requireKernel(this);
  });

  it('openPinnedMap of a path where nothing is pinned is input (exit 2), with the errno kept', () => {
    const path = `/sys/fs/bpf/${uniqueName('bpfload-nopin')}`;
    let error: unknown;
    try {
      openPinnedMap(path);
    } catch (e) {
      error = e;
    }
    expect((error as Error).message).to.equal(`map '${path}': cannot open pinned map '${path}': BPF_OBJ_GET: ENOENT (nothing is pinned at that path)`);
    expect(error).to.include({ code: 'BPF_LOAD_INPUT', errnoName: 'ENOENT' });
    expect(errorCategory(error)).to.equal('input');
    expect(() => openPinnedMap(`${path}/below`)).to.throw(/BPF_OBJ_GET: ENOENT/).with.property('code', 'BPF_LOAD_INPUT');
  });

  it('attachTracepoint where tracefs is not mounted is the system lacking it (BPF_LOAD_SYSTEM: kernel, exit 1)', function () {
    requireTool(this, 'unshare');
    const loader = new URL('../../loader/index.js', import.meta.url).href;
    const script = [
      `import { attachTracepoint, errorCategory, loadBpfFileSync } from '${loader}';`,
      `const object = loadBpfFileSync(${JSON.stringify(fixturePath('tracing_kern.o'))});`,
      "try { attachTracepoint(object.program('on_getuid'), 'syscalls', 'sys_enter_getuid'); console.log('attached'); }",
      'catch (error) { console.log(JSON.stringify({ message: error.message, code: error.code, category: errorCategory(error) })); }',
      'object.close();',
    ].join('\n');
    // a private mount namespace without tracefs (debugfs goes too: its tracing/ mounts tracefs when looked at)
    const shell = [
      'for dir in /sys/kernel/tracing /sys/kernel/debug/tracing /sys/kernel/debug; do while mountpoint -q $dir; do umount -l $dir; done; done',
      'node --input-type=module -e "$SCRIPT"',
    ].join(' && ');
    const output = execFileSync('unshare', ['--mount', '--propagation', 'private', 'sh', '-c', shell], {
      encoding: 'utf8', env: { ...process.env, SCRIPT: script }, cwd: fileURLToPath(new URL('.', import.meta.url)),
    });
    expect(JSON.parse(output)).to.deep.equal({
      message: `${fixturePath('tracing_kern.o')}: sec 'tracepoint/syscalls/sys_enter_getuid': prog 'on_getuid': attach to tracepoint syscalls/sys_enter_getuid: ` +
        'tracefs is not mounted (looked in /sys/kernel/tracing, /sys/kernel/debug/tracing) (mount it: mount -t tracefs nodev /sys/kernel/tracing)',
      code: 'BPF_LOAD_SYSTEM',
      category: 'kernel',
    });
  });
});
