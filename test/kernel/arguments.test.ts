import { expect } from 'chai';
import { spawnSync } from 'node:child_process';
import {
  BPF_MAP_TYPE, attachCgroup, detachXdp, attachPerfEvent, attachRawTracepoint, attachSocketFilter, attachTc, attachTracepoint, attachXdp, cstring,
  exportMaps, isBpfLoadError, loadBpfFile, loadBpfObject, loadObjectSpec, openPerfEventReader, openRingBufferReader, openMapById, openMapFd, openPinnedMap, parseObject, u32, u64, unpinDirectory,
} from '../../loader/index.js';
import { fixturePath, fixtureBytes } from '../support/fixtures.js';
import { requireKernel, requireTool } from '../support/kernel.js';
import { createTestMap } from '../support/maps.js';

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
    await expectArgumentError(() => attachTc(program, 'lo', 'ingress'), /the program is tracepoint, and tc's hooks run sched_cls programs/);
    expect(spawnSync('tc', ['qdisc', 'show', 'dev', 'lo'], { encoding: 'utf8' }).stdout).to.equal(qdiscsBefore);

    await expectArgumentError(() => attachPerfEvent(program, { samplePeriod: 'abc' as never }), /options\.samplePeriod must be a whole number >= 0/);
    await expectArgumentError(() => attachPerfEvent(program, { config: 1.5 }), /options\.config must be a whole number >= 0/);
    await expectArgumentError(() => attachPerfEvent(program, { bogus: 1 } as never), /attachPerfEvent: unknown options 'bogus'/);
    await expectArgumentError(() => openPerfEventReader(null as never), /the map must be a BpfMap/);
    await expectArgumentError(() => openRingBufferReader(5 as never), /the map must be a BpfMap/);
    await expectArgumentError(() => exportMaps(null as never, '/tmp/x.sock'), /exportMaps: object must be a loaded object/);
    await expectArgumentError(() => loadObjectSpec(fixturePath('tracing_kern.o'), null as never), /loadObjectSpec: options must be/);
  });

  it('detachXdp says what it was doing to which interface', () => {
    expect(() => detachXdp('nosuchif0')).to.throw(/^detach XDP from nosuchif0: no such interface: if_nametoindex\('nosuchif0'\): ENODEV/)
      .with.property('code', 'BPF_LOAD_KERNEL');
  });
});
