import { expect } from 'chai';
import { closeSync, openSync } from 'node:fs';
import { loadBpfFile } from '../../loader/load/loadBpfFile.js';
import { LoadError } from '../../loader/errors.js';
import type { LoadOptions } from '../../loader/options.js';
import { BPF_MAP_CREATE, BPF_MAP_TYPE, errno, mapCreate, mapGetInfo, openBpfFdCount, overrideBpfSyscall } from '../../syscall/index.js';
import { processFdCount, requireKernel } from '../support/kernel.js';
import { fixturePath } from '../support/fixtures.js';

/**
 * Fault injection: the real bpf(2) creates every map but the k-th, which a
 * fake fails with a chosen errno. The refused load must name the file, the
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
  /type array_of_maps, key 4, value 0, max_entries 8, flags 0x0, inner_map_idx 0/,
  /type hash_of_maps, key 4, value 0, max_entries 8, flags 0x0, inner_map_idx 3/,
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
async function expectRefusedLoad(options: LoadOptions, file = FIXTURE): Promise<LoadError> {
  const bpfFds = openBpfFdCount();
  const processFds = processFdCount();
  let error: unknown;
  try {
    (await loadBpfFile(fixturePath(file), options)).close();
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
  let creates = 0;
  const restore = overrideBpfSyscall((cmd, attr, size, real) => {
    if (cmd !== BPF_MAP_CREATE) return real(cmd, attr, size);
    return creates++ === k ? -code : real(cmd, attr, size);
  });
  try {
    const object = await loadBpfFile(fixturePath(FIXTURE), options);
    object.close();
    return { error: undefined, creates };
  } catch (error) {
    return { error, creates };
  } finally {
    restore();
  }
}

describe('loader (fault injection): a failing BPF_MAP_CREATE closes everything and says why', () => {
  before(function () {
    requireKernel(this);
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
      let creates = 0;
      const restore = overrideBpfSyscall((cmd, attr, size, real) =>
        cmd === BPF_MAP_CREATE && creates++ === k ? -errno.ENOMEM : real(cmd, attr, size),
      );
      let error: LoadError;
      try {
        error = await expectRefusedLoad({}, 'many_maps_kern.o');
      } finally {
        restore();
      }
      expect(error.message).to.include(`map 'map_${k}' (#${k}): failed to create map (type array, key 4, value 4, max_entries ${k + 1}, flags 0x0): BPF_MAP_CREATE: ENOMEM`);
    }
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

  it('a real kernel refusal (EINVAL for max_entries 0 from fixupMap) is reported the same way', async () => {
    const error = await expectRefusedLoad({
      fixupMap: (map) => {
        if (map.name === 'percpu_array') map.def.max_entries = 0;
      },
    });
    expect(error.message).to.match(
      /map 'percpu_array' \(#5\): failed to create map \(type percpu_array, key 4, value 12, max_entries 0, flags 0x0\): BPF_MAP_CREATE: EINVAL \(max_entries is 0\)/,
    );
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
      expect(error.message).to.include(`map 'hash_of_maps' (#2): fixupMap handed in fd ${notAMap}, which is not a BPF map`);
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
    expect(missing.message).to.include(`map 'hash_of_maps' (#2): map-in-map inner_map_idx 99 is not a map of this object (it has 8)`);
    const cycle = await expectRefusedLoad(withTemplates({ 1: 2, 2: 1 }));
    expect(cycle.message).to.include(
      `map 'array_of_maps' (#1): map-in-map inner-map templates form a cycle: 'array_of_maps' -> 'hash_of_maps' -> 'array_of_maps'`,
    );
    for (const error of [self, missing, cycle]) expect(error.errno, 'a fault of the object, not the kernel').to.equal(undefined);
  });

  it('an fd handed in by fixupMap is used instead of creating the map, and stays the caller\'s', async () => {
    const own = mapCreate({ map_type: BPF_MAP_TYPE.HASH, key_size: 8, value_size: 8, max_entries: 64, map_flags: 0 });
    try {
      let creates = 0;
      const restore = overrideBpfSyscall((cmd, attr, size, real) => {
        if (cmd === BPF_MAP_CREATE) creates++;
        return real(cmd, attr, size);
      });
      try {
        const object = await loadBpfFile(fixturePath(FIXTURE), {
          fixupMap: (map) => {
            if (map.index === 4) map.fd = own.fd;
          },
        });
        try {
          expect(creates).to.equal(MAP_NAMES.length - 1);
          expect(object.maps[4]!.info.id).to.equal(mapGetInfo(own.fd).id);
          expect(object.map_fd[4]).to.not.equal(own.fd);
        } finally {
          object.close();
        }
      } finally {
        restore();
      }
      // still open and usable after the object closed its duplicate
      expect(own.closed).to.equal(false);
      expect(mapGetInfo(own.fd).max_entries).to.equal(64);
    } finally {
      own.close();
    }
  });

  it('a handed-in map whose type or sizes differ from the definition is refused, naming both sides', async () => {
    // numa_hash (#4) is a hash with 8-byte keys and 8-byte values
    const wider = mapCreate({ map_type: BPF_MAP_TYPE.HASH, key_size: 8, value_size: 256, max_entries: 16, map_flags: 0 });
    const array = mapCreate({ map_type: BPF_MAP_TYPE.ARRAY, key_size: 4, value_size: 8, max_entries: 16, map_flags: 0 });
    try {
      const sized = await expectRefusedLoad({ fixupMap: (map) => void (map.index === 4 && (map.fd = wider.fd)) });
      expect(sized.message).to.include(
        `map 'numa_hash' (#4): fixupMap handed in a map that does not match the definition: value_size 8 (object) != 256 (fd ${wider.fd})`,
      );
      const typed = await expectRefusedLoad({ fixupMap: (map) => void (map.index === 4 && (map.fd = array.fd)) });
      expect(typed.message).to.include(`type hash (object) != array (fd ${array.fd})`).and.to.include(`key_size 8 (object) != 4`);
    } finally {
      wider.close();
      array.close();
    }
  });

  it('a handed-in map with other max_entries and flags is used as the kernel has it, element ops sized by its info', async () => {
    const bigger = mapCreate({ map_type: BPF_MAP_TYPE.HASH, key_size: 8, value_size: 8, max_entries: 4096, map_flags: 1 });
    try {
      const object = await loadBpfFile(fixturePath(FIXTURE), {
        fixupMap: (map) => void (map.index === 4 && (map.fd = bigger.fd)),
      });
      try {
        const map = object.maps[4]!;
        expect([map.def.max_entries, map.def.map_flags]).to.deep.equal([4096, 1]);
        map.update(Buffer.alloc(8, 1), Buffer.alloc(8, 2));
        expect(map.lookup(Buffer.alloc(8, 1))).to.deep.equal(Buffer.alloc(8, 2));
      } finally {
        object.close();
      }
    } finally {
      bigger.close();
    }
  });
});
