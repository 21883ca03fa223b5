import { expect } from 'chai';
import { loadBpfFile } from '../../loader/load/loadBpfFile.js';
import { LoadError } from '../../loader/errors.js';
import type { LoadOptions } from '../../loader/options.js';
import { BPF_MAP_CREATE, BPF_MAP_TYPE, mapCreate, mapGetInfo, openBpfFdCount, overrideBpfSyscall } from '../../syscall/index.js';
import { processFdCount, requireKernel } from '../support/kernel.js';
import { fixturePath } from '../support/fixtures.js';

/**
 * fixupMap against the real kernel: what the fake tier cannot stand for
 * (a refusal the kernel itself makes, maps handed in and compared with what
 * the kernel says they are).
 */
const FIXTURE = 'map_def28_kern.o';
const MAP_NAMES = ['inner_array', 'array_of_maps', 'hash_of_maps', 'inner_hash', 'numa_hash', 'percpu_array', 'lru_percpu_hash', 'name_longer_than_fifteen'];

async function expectRefusedLoad(options: LoadOptions): Promise<LoadError> {
  const bpfFds = openBpfFdCount();
  const processFds = processFdCount();
  let error: unknown;
  try {
    (await loadBpfFile(fixturePath(FIXTURE), options)).close();
  } catch (e) {
    error = e;
  }
  expect(error).to.be.instanceOf(LoadError);
  expect(openBpfFdCount(), 'BpfFds after the refusal').to.equal(bpfFds);
  expect(processFds, 'process fds after the refusal').to.equal(processFdCount());
  return error as LoadError;
}

describe('kernel: fixupMap edits and handed-in maps', () => {
  before(function () {
    requireKernel(this);
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
        `map 'numa_hash' (#4): fd ${wider.fd} does not match the spec of map 'numa_hash': value_size 8 (object) != 256 (fd ${wider.fd})`,
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
