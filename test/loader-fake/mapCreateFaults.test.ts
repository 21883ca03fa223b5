import { expect } from 'chai';
import { closeSync, openSync } from 'node:fs';
import { loadBpfFile } from '../../loader/load/loadBpfFile.js';
import { LoadError } from '../../loader/errors.js';
import type { LoadOptions } from '../../loader/options.js';
import { BPF_MAP_CREATE, errno, openBpfFdCount } from '../../syscall/index.js';
import { FakeKernel, withFakeKernel } from '../support/fakeKernel.js';
import { processFdCount } from '../support/kernel.js';
import { fixturePath } from '../support/fixtures.js';
import { sleep } from '../support/processes.js';

/**
 * Fault injection over a fake bpf(2) that never reaches the kernel (so this
 * runs without root): every map is made but the k-th, which fails with a chosen errno. The refused load must name the file, the
 * section, the map (index and name), its def, the errno and a hint, and close
 * every map created before the failure.
 */

const FIXTURE = 'map_def28_kern.o';
/** map_fd[] order; #2 (hash_of_maps) needs its template #3 first, so #3 is created third. */
const MAP_NAMES = ['inner_array', 'array_of_maps', 'hash_of_maps', 'inner_hash', 'numa_hash', 'percpu_array', 'lru_percpu_hash', 'name_longer_than_fifteen'];
const CREATION_ORDER = [0, 1, 3, 2, 4, 5, 6, 7];
/** What describeDef says about each map, after the loader's view of it. */
const DEF_TEXT = [
  /type array, key 4, value 8, max_entries 16, flags 0x0/,
  /type array_of_maps, key 4, value 0, max_entries 8, flags 0x0, inner map 'inner_array'/,
  /type hash_of_maps, key 4, value 0, max_entries 8, flags 0x0, inner map 'inner_hash'/,
  /type hash, key 4, value 4, max_entries 32, flags 0x0/,
  /type hash, key 8, value 8, max_entries 64, flags 0x4, numa_node 0/,
  /type percpu_array, key 4, value 12, max_entries 8, flags 0x0/,
  /type lru_percpu_hash, key 4, value 16, max_entries 64, flags 0x0/,
  /type array, key 4, value 4, max_entries 1, flags 0x0/,
];

const HINTS: Record<string, RegExp> = {
  EPERM: /needs root or CAP_BPF/,
  ENOMEM: /memlock limit \(`ulimit -l`\)/,
  E2BIG: /key_size \d+ or value_size \d+ is larger than this map type allows/,
  // a valid def refused with EINVAL: the hint still points at a field to look at
  EINVAL: /max_entries|key_size|value_size|map_flags|numa_node|map type/,
};

/** Runs a load that must be refused: asserts it closed every fd it opened and returns its LoadError. */
async function expectRefusedLoad(options: LoadOptions, file = FIXTURE, fake = new FakeKernel()): Promise<LoadError> {
  const bpfFds = openBpfFdCount();
  const processFds = processFdCount();
  let error: unknown;
  try {
    await withFakeKernel(fake, async () => (await loadBpfFile(fixturePath(file), options)).close());
  } catch (e) {
    error = e;
  }
  expect(error).to.be.instanceOf(LoadError);
  expect(openBpfFdCount(), 'BpfFds after the refusal').to.equal(bpfFds);
  expect(processFdCount(), 'process fds after the refusal').to.equal(processFds);
  return error as LoadError;
}

/** Load with the k-th BPF_MAP_CREATE (0-based) failing with `code`; returns the error and how many creates ran. */
async function loadFailingAt(k: number, code: number, options: LoadOptions = {}): Promise<{ error: unknown; creates: number }> {
  const fake = new FakeKernel((cmd, _attr, nth) => (cmd === BPF_MAP_CREATE && nth === k ? -code : undefined));
  try {
    await withFakeKernel(fake, async () => (await loadBpfFile(fixturePath(FIXTURE), options)).close());
    return { error: undefined, creates: fake.count(BPF_MAP_CREATE) };
  } catch (error) {
    return { error, creates: fake.count(BPF_MAP_CREATE) };
  }
}

describe('loader (fake kernel): a failing BPF_MAP_CREATE closes everything and says why', () => {
  it('the fake never reaches the kernel: it answers every map and program with an fd of its own and records the attrs', async () => {
    const fake = new FakeKernel();
    const object = await withFakeKernel(fake, () => loadBpfFile(fixturePath(FIXTURE)));
    try {
      expect(fake.calls.map((c) => c.name)).to.include('BPF_MAP_CREATE');
      expect(fake.count(BPF_MAP_CREATE)).to.equal(MAP_NAMES.length);
      // attr of the first create: type array (2), key 4, value 8, max_entries 16
      const first = fake.calls.find((c) => c.cmd === BPF_MAP_CREATE)!.attr;
      expect([first.readUInt32LE(0), first.readUInt32LE(4), first.readUInt32LE(8), first.readUInt32LE(12)]).to.deep.equal([2, 4, 8, 16]);
      expect(object.map_fd.every((fd) => fake.objects.get(fd) === 'map')).to.equal(true);
      expect(object.prog_fd.every((fd) => fake.objects.get(fd) === 'prog')).to.equal(true);
    } finally {
      object.close();
    }
  });

  it('an async fixupMap is refused (not awaited), and its rejection is not left unhandled', async () => {
    let unhandled = 0;
    const count = (): void => void unhandled++;
    process.on('unhandledRejection', count);
    try {
      const error = await expectRefusedLoad({
        fixupMap: (async () => {
          throw new Error('too late');
        }) as never,
      });
      expect(error.code).to.equal('BPF_LOAD_ARGUMENT');
      expect(error.message).to.include("map 'inner_array' (#0): fixupMap returned a Promise: it is called synchronously");
      await sleep(50);
      expect(unhandled).to.equal(0);
    } finally {
      process.off('unhandledRejection', count);
    }
  });

  it('a fixupMap that sets def to null is refused naming it, not a TypeError', async () => {
    const error = await expectRefusedLoad({ fixupMap: (map) => void ((map as { def: unknown }).def = null) });
    expect(error.code).to.equal('BPF_LOAD_ARGUMENT');
    expect(error.message).to.include("map 'inner_array' (#0): fixupMap set def to null");
  });

  for (const name of ['EPERM', 'ENOMEM', 'E2BIG', 'EINVAL'] as const) {
    it(`${name} at each of the ${MAP_NAMES.length} creates of ${FIXTURE}`, async () => {
      for (let k = 0; k < CREATION_ORDER.length; k++) {
        const index = CREATION_ORDER[k]!;
        const bpfFds = openBpfFdCount();
        const processFds = processFdCount();
        const { error, creates } = await loadFailingAt(k, errno[name]);
        expect(creates, `create #${k} was reached and nothing after it`).to.equal(k + 1);
        expect(error, `k=${k}`).to.be.instanceOf(LoadError);
        const loadError = error as LoadError;
        const message = loadError.message;
        expect(message.startsWith(fixturePath(FIXTURE)), message).to.equal(true);
        expect(message).to.include(`sec 'maps': map '${MAP_NAMES[index]}' (#${index})`);
        expect(message).to.match(DEF_TEXT[index]!);
        expect(message).to.include(`BPF_MAP_CREATE: ${name}`);
        expect(message).to.match(HINTS[name]!);
        expect(loadError.errnoName).to.equal(name);
        expect(loadError.errno).to.equal(errno[name]);
        expect(loadError.map).to.deep.equal({ index, name: MAP_NAMES[index] });
        expect(loadError.file).to.equal(fixturePath(FIXTURE));
        expect(loadError.section).to.equal('maps');
        expect(openBpfFdCount(), `BpfFds closed after a failure at create #${k}`).to.equal(bpfFds);
        expect(processFdCount(), `process fds closed after a failure at create #${k}`).to.equal(processFds);
      }
    });
  }

  it('many_maps_kern.o (70 maps): a failure at the first, a middle and the last create closes all before it', async () => {
    for (const k of [0, 1, 35, 68, 69]) {
      const fake = new FakeKernel((cmd, _attr, nth) => (cmd === BPF_MAP_CREATE && nth === k ? -errno.ENOMEM : undefined));
      const error = await expectRefusedLoad({}, 'many_maps_kern.o', fake);
      expect(fake.count(BPF_MAP_CREATE)).to.equal(k + 1);
      expect(error.message).to.include(`map 'map_${k}' (#${k}): failed to create map (type array, key 4, value 4, max_entries ${k + 1}, flags 0x0): BPF_MAP_CREATE: ENOMEM`);
    }
  });

  it('EMFILE and ENFILE say what to do about them', async () => {
    const emfile = await loadFailingAt(3, errno.EMFILE);
    expect((emfile.error as Error).message).to.match(/BPF_MAP_CREATE: EMFILE \(this process has too many open files: raise `ulimit -n`/);
    const enfile = await loadFailingAt(0, errno.ENFILE);
    expect((enfile.error as Error).message).to.match(/BPF_MAP_CREATE: ENFILE \(the system has too many open files/);
  });

  it('E2BIG and EINVAL hints name the field of the def that is wrong', async () => {
    const tooBig = await loadFailingAt(0, errno.E2BIG);
    expect((tooBig.error as Error).message).to.include('key_size 4 or value_size 8 is larger than this map type allows');
    // the loader edits the def through fixupMap, the kernel refuses, the hint names what was edited
    const zeroEntries = await loadFailingAt(0, errno.EINVAL, {
      fixupMap: (map) => {
        if (map.index === 0) map.def.max_entries = 0;
      },
    });
    expect((zeroEntries.error as Error).message).to.match(/max_entries 0, .*BPF_MAP_CREATE: EINVAL \(max_entries is 0\)/);
  });

  it('a fixupMap that throws at map k: LoadError naming the map, the thrown error as cause, nothing opened', async () => {
    for (let k = 0; k < MAP_NAMES.length; k++) {
      const thrown = new TypeError(`callback bug at ${k}`);
      const error = await expectRefusedLoad({
        fixupMap: (_map, index) => {
          if (index === k) throw thrown;
        },
      });
      expect(error.message).to.include(`map '${MAP_NAMES[k]}' (#${k}): fixupMap callback threw`);
      expect(error.message).to.include(`fixupMap callback threw TypeError: callback bug at ${k}`);
      expect(error.cause).to.equal(thrown);
    }
  });

  it('a bad fd handed in by fixupMap (EBADF) closes the maps made before it', async () => {
    // far above anything open here: a just-closed number could be reused by the load itself
    const stale = 999_999;
    const error = await expectRefusedLoad({
      fixupMap: (map) => {
        if (map.index === 4) map.fd = stale;
      },
    });
    expect(error.errnoName).to.equal('EBADF');
    expect(error.message).to.match(new RegExp(`map 'numa_hash' \\(#4\\): .*fd ${stale}.*EBADF`));
  });

  it('an fd handed in by fixupMap that is not a BPF map is refused, naming it', async () => {
    const notAMap = openSync('/dev/null', 'r');
    try {
      const error = await expectRefusedLoad({
        fixupMap: (map) => {
          if (map.index === 2) map.fd = notAMap;
        },
      });
      expect(error.message).to.include(`map 'hash_of_maps' (#2): fd ${notAMap} is not a BPF map`);
    } finally {
      closeSync(notAMap);
    }
  });

  it('a def field fixupMap sets out of the u32 range is refused instead of wrapping', async () => {
    for (const [field, value] of [['max_entries', 2 ** 32], ['key_size', -1], ['value_size', 1.5], ['map_flags', Number.NaN]] as const) {
      const error = await expectRefusedLoad({
        fixupMap: (map) => {
          if (map.index === 1) (map.def as unknown as Record<string, number>)[field] = value;
        },
      });
      expect(error.message).to.include(`map 'array_of_maps' (#1): fixupMap set def.${field} to ${String(value)}, not an unsigned 32-bit integer`);
    }
  });

  it('a map-in-map whose template is itself, no map of the object, or a cycle: refused naming the maps, nothing left open', async () => {
    const withTemplates = (templates: Record<number, number>): LoadOptions => ({
      fixupMap: (map) => {
        if (map.index in templates) map.def.inner_map_idx = templates[map.index]!;
      },
    });
    const self = await expectRefusedLoad(withTemplates({ 1: 1 }));
    expect(self.message).to.include(`map 'array_of_maps' (#1): map-in-map names itself (inner_map_idx 1) as its inner-map template`);
    const missing = await expectRefusedLoad(withTemplates({ 2: 99 }));
    expect(missing.message).to.include(`map 'hash_of_maps' (#2): map-in-map has no inner-map template (inner_map_idx 99 is not a map of this object, which has 8)`);
    const cycle = await expectRefusedLoad(withTemplates({ 1: 2, 2: 1 }));
    expect(cycle.message).to.include(
      `map 'array_of_maps' (#1): map-in-map inner-map templates form a cycle: 'array_of_maps' -> 'hash_of_maps' -> 'array_of_maps'`,
    );
    for (const error of [self, missing, cycle]) expect(error.errno, 'a fault of the object, not the kernel').to.equal(undefined);
  });


});
