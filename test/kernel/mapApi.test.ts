import { expect } from 'chai';
import { closeSync, existsSync, openSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import {
  BPF_ANY, BPF_EXIST, BPF_MAP_TYPE, BPF_NOEXIST, loadBpfFile, openMapById, openMapFd,
  openPinnedMap, bytes, struct, u8, u16, u32, u64, RawMap, TypedMap, type BpfMap,
} from '../../loader/index.js';
import { mapCreate, objPin, overrideBpfSyscall } from '../../syscall/index.js';
import { freshPinRoot, removePinRoot } from '../support/bpffs.js';
import { fixturePath } from '../support/fixtures.js';
import { processFdCount, requireKernel } from '../support/kernel.js';
import { createTestMap, expectMapError, key32 } from '../support/maps.js';
import { bpftoolBytes, bpftoolDump, bpftoolJson, bpftoolRun } from '../support/bpftool.js';

describe('kernel: map API (lookup/update/delete/get_next_key, flags, sizes)', function () {
  before(function () {
    requireKernel(this);
  });

  it('hash: update then lookup round-trips, bpftool sees the same bytes, delete says whether the key existed', () => {
    using map = createTestMap({ type: BPF_MAP_TYPE.HASH, key: 4, value: 8, max: 16 });
    const value = Buffer.from('0102030405060708', 'hex');
    map.update(key32(7), value);
    expect(map.lookup(key32(7))).to.deep.equal(value);
    expect(map.lookup(key32(8))).to.equal(undefined);
    expect(map.has(key32(7))).to.equal(true);
    const dump = bpftoolDump(map.id);
    expect(dump).to.have.length(1);
    expect(bpftoolBytes(dump[0]!.key)).to.deep.equal(key32(7));
    expect(bpftoolBytes(dump[0]!.value!)).to.deep.equal(value);
    expect(map.delete(key32(7))).to.equal(true);
    expect(map.delete(key32(7))).to.equal(false);
    expect(bpftoolDump(map.id)).to.deep.equal([]);
  });

  it('the handle owns the fd; raw and typed views over it share it and end with it', () => {
    const map = createTestMap({ type: BPF_MAP_TYPE.HASH, key: 4, value: 4, max: 8, name: 'views_map' });
    const raw = map.raw;
    const typed = map.typed(u32, u32);
    expect(raw).to.be.instanceOf(RawMap);
    expect(map).to.not.be.instanceOf(TypedMap);
    expect(map.raw).to.equal(raw);
    typed.update(3, 30);
    // the handle's element methods are the raw view's
    expect(map.lookup(key32(3))).to.deep.equal(raw.lookup(key32(3)));
    expect(raw.keyCodec.size).to.equal(4);
    raw.update(key32(4), key32(40));
    expect(typed.lookup(4)).to.equal(40);
    expect([...typed.keys()].sort()).to.deep.equal([3, 4]);
    map.close();
    expect(map.closed).to.equal(true);
    expectMapError(() => raw.lookup(key32(3)), 'BPF_LOAD_MAP_CLOSED', /map 'views_map': used after close\(\)/);
    expectMapError(() => typed.lookup(3), 'BPF_LOAD_MAP_CLOSED', /used after close/);
    expectMapError(() => [...typed.keys()], 'BPF_LOAD_MAP_CLOSED', /used after close/);
  });

  it('this package reads what bpftool writes', () => {
    using map = createTestMap({ type: BPF_MAP_TYPE.HASH, key: 4, value: 8, max: 16 });
    const typed = map.typed(u32, u64);
    bpftoolRun('map', 'update', 'id', String(map.id), 'key', '5', '0', '0', '0', 'value', '0xff', '1', '0', '0', '0', '0', '0', '0x80');
    expect(typed.lookup(5)).to.equal(0x80000000000001ffn);
  });

  it('BPF_NOEXIST on an existing key and BPF_EXIST on a missing key are clear errors; the map is unchanged', () => {
    using map = createTestMap({ type: BPF_MAP_TYPE.HASH, key: 4, value: 4, max: 16, name: 'flags_map' });
    const typed = map.typed(u32, u32);
    typed.update(1, 10, BPF_NOEXIST);
    const exists = expectMapError(() => typed.update(1, 11, BPF_NOEXIST), 'BPF_LOAD_MAP_KEY_EXISTS', /map 'flags_map': update key 01000000: the key already exists \(BPF_NOEXIST\): BPF_MAP_UPDATE_ELEM: EEXIST/);
    expect(exists.errnoName).to.equal('EEXIST');
    expectMapError(() => typed.update(2, 20, BPF_EXIST), 'BPF_LOAD_MAP_KEY_MISSING', /key 02000000: no such key \(BPF_EXIST\).*ENOENT/);
    expect(typed.lookup(1)).to.equal(10);
    expect(typed.lookup(2)).to.equal(undefined);
    typed.update(1, 12, BPF_EXIST);
    typed.update(1, 13, BPF_ANY);
    expect(typed.lookup(1)).to.equal(13);
  });

  it('array: every index exists (zeros), entries cannot be deleted, an index past max_entries is E2BIG', () => {
    using map = createTestMap({ type: BPF_MAP_TYPE.ARRAY, key: 4, value: 8, max: 4, name: 'arr' });
    const typed = map.typed(u32, u64);
    expect(typed.lookup(3)).to.equal(0n);
    expect(typed.lookup(4)).to.equal(undefined);
    typed.update(2, 42n);
    expect([...typed.entries()]).to.deep.equal([[0, 0n], [1, 0n], [2, 42n], [3, 0n]]);
    expectMapError(() => typed.update(2, 1n, BPF_NOEXIST), 'BPF_LOAD_MAP_KEY_EXISTS', /EEXIST/);
    const noDelete = expectMapError(() => typed.delete(2), 'BPF_LOAD_MAP', /map 'arr': delete key 02000000: BPF_MAP_DELETE_ELEM: EINVAL \(entries of array maps cannot be deleted: every index always exists/);
    expect(noDelete.errnoName).to.equal('EINVAL');
    expectMapError(() => typed.update(4, 1n), 'BPF_LOAD_MAP', /E2BIG \(the map is full or the index is out of range \(max_entries 4\)\)/);
  });

  it('get_next_key walks every key once and undefined ends it; a missing key restarts a hash at its first key', () => {
    using map = createTestMap({ type: BPF_MAP_TYPE.HASH, key: 4, value: 4, max: 64 });
    const typed = map.typed(u32, u32);
    for (let i = 0; i < 20; i++) typed.update(i * 3, i);
    const seen: number[] = [];
    for (let k = typed.getNextKey(); k !== undefined; k = typed.getNextKey(k)) seen.push(k);
    expect(seen.sort((a, b) => a - b)).to.deep.equal(Array.from({ length: 20 }, (_, i) => i * 3));
    expect(typed.getNextKey(1000)).to.equal(typed.getNextKey());
  });

  it('LRU hash evicts instead of failing when full', () => {
    using map = createTestMap({ type: BPF_MAP_TYPE.LRU_HASH, key: 4, value: 4, max: 256 });
    const typed = map.typed(u32, u32);
    for (let i = 0; i < 2000; i++) typed.update(i, i);
    const count = typed.count();
    expect(count).to.be.greaterThan(0).and.at.most(256 + 64);
    expect(typed.lookup(1999)).to.equal(1999); // the latest insert survives
    // a full plain hash refuses instead
    using plain = createTestMap({ type: BPF_MAP_TYPE.HASH, key: 4, value: 4, max: 2 });
    const p = plain.typed(u32, u32);
    p.update(1, 1);
    p.update(2, 2);
    expectMapError(() => p.update(3, 3), 'BPF_LOAD_MAP', /E2BIG/);
  });

  it('a key or value of the wrong size is refused before any syscall, naming the map and both sizes', () => {
    using map = createTestMap({ type: BPF_MAP_TYPE.HASH, key: 4, value: 8, max: 4, name: 'sized' });
    map.update(key32(1), Buffer.alloc(8)); // scratch memory allocated, so nothing else is pending
    const calls: number[] = [];
    const restore = overrideBpfSyscall((cmd, attr, size, real) => {
      calls.push(cmd);
      return real(cmd, attr, size);
    });
    try {
      expectMapError(() => map.lookup(Buffer.alloc(5)), 'BPF_LOAD_MAP_SIZE', /map 'sized': key is 5 bytes, the map's key_size is 4/);
      expectMapError(() => map.update(key32(1), Buffer.alloc(4)), 'BPF_LOAD_MAP_SIZE', /value is 4 bytes, the map's value size is 8/);
      expectMapError(() => map.delete(new Uint8Array(8)), 'BPF_LOAD_MAP_SIZE', /key is 8 bytes/);
      expectMapError(() => map.typed(u16, u64), 'BPF_LOAD_MAP_SIZE', /key codec u16 is 2 bytes, the map's key_size is 4/);
      expectMapError(() => map.typed(u32, u32), 'BPF_LOAD_MAP_SIZE', /value codec u32 is 4 bytes, the map's values are 8/);
      expectMapError(() => map.typed(u32, u64).update(-1, 0n), 'BPF_LOAD_MAP_ENCODE', /cannot encode key as u32/);
      expect(calls).to.deep.equal([]);
    } finally {
      restore();
    }
  });

  it('struct keys: padding is zeroed, so equal structs are the same key', () => {
    const flow = struct({ proto: u8, port: u16, addr: u32 });
    using map = createTestMap({ type: BPF_MAP_TYPE.HASH, key: flow.size, value: 8, max: 8 });
    const typed = map.typed(flow, u64);
    typed.update({ proto: 6, port: 443, addr: 0x0a000001 }, 1n);
    typed.update({ proto: 6, port: 443, addr: 0x0a000001 }, 2n);
    expect(typed.count()).to.equal(1);
    expect([...typed.entries()]).to.deep.equal([[{ proto: 6, port: 443, addr: 0x0a000001 }, 2n]]);
    expect(bpftoolBytes(bpftoolDump(map.id)[0]!.key).toString('hex')).to.equal('0600bb010100000a');
  });

  it('keys()/entries() survive the loop body deleting what it visits and what comes next', () => {
    using map = createTestMap({ type: BPF_MAP_TYPE.HASH, key: 4, value: 4, max: 4096 });
    const typed = map.typed(u32, u32);
    for (let i = 0; i < 3000; i++) typed.update(i, i * 2);
    const yielded = new Set<number>();
    let duplicates = 0;
    for (const [key, value] of typed.entries()) {
      if (yielded.has(key)) duplicates++;
      yielded.add(key);
      expect(value).to.equal(key * 2);
      typed.delete(key);
      if (key % 2 === 0) typed.delete(key + 1); // also delete one we may not have reached yet
    }
    expect(duplicates).to.equal(0);
    expect(typed.count()).to.equal(0);
    // every key is either yielded or was deleted by the loop as a neighbour
    for (let i = 0; i < 3000; i++) expect(yielded.has(i) || (i % 2 === 1 && yielded.has(i - 1)), `key ${i}`).to.equal(true);
  });

  it('lookupAndDelete on a hash; push/pop/peek on queue and stack maps (key_size 0)', () => {
    using hash = createTestMap({ type: BPF_MAP_TYPE.HASH, key: 4, value: 4, max: 4 });
    const h = hash.typed(u32, u32);
    h.update(1, 10);
    expect(h.lookupAndDelete(1)).to.equal(10);
    expect(h.lookupAndDelete(1)).to.equal(undefined);
    expect(h.has(1)).to.equal(false);
    expectMapError(() => h.push(1), 'BPF_LOAD_MAP', /push\(\) is for queue and stack maps \(key_size 0\), this is hash/);

    using queue = createTestMap({ type: BPF_MAP_TYPE.QUEUE, key: 0, value: 8, max: 3 });
    const q = queue.typed(bytes(0), u64);
    expect(q.pop()).to.equal(undefined);
    q.push(1n);
    q.push(2n);
    q.push(3n);
    expectMapError(() => q.push(4n), 'BPF_LOAD_MAP', /E2BIG/);
    q.push(4n, BPF_EXIST); // a full queue drops its oldest value
    expect(q.peek()).to.equal(2n);
    // no keys to walk: said so instead of get_next_key's bare EINVAL, and nothing is popped
    expectMapError(() => [...q.entries()], 'BPF_LOAD_MAP_NOT_WALKABLE', /cannot walk a map without keys \(queue.*\(a queue or stack map is read with peek\(\)/);
    expectMapError(() => q.drain(), 'BPF_LOAD_MAP_NOT_WALKABLE', /cannot drain/);
    expect(q.peek()).to.equal(2n);
    expect([q.pop(), q.pop(), q.pop(), q.pop()]).to.deep.equal([2n, 3n, 4n, undefined]);

    using stack = createTestMap({ type: BPF_MAP_TYPE.STACK, key: 0, value: 4, max: 4 });
    const st = stack.typed(bytes(0), u32);
    st.push(1);
    st.push(2);
    expect([st.pop(), st.pop(), st.pop()]).to.deep.equal([2, 1, undefined]);
  });

  it('a closed map and its views refuse to be used, with a MapError', () => {
    const map = createTestMap({ type: BPF_MAP_TYPE.HASH, key: 4, value: 4, max: 4, name: 'closed_map' });
    const typed = map.typed(u32, u32);
    typed.update(1, 1);
    map.close();
    expectMapError(() => typed.lookup(1), 'BPF_LOAD_MAP_CLOSED', /map 'closed_map': used after close\(\)/);
    expectMapError(() => map.lookup(Buffer.alloc(4)), 'BPF_LOAD_MAP_CLOSED', /used after close/);
    expectMapError(() => [...typed.keys()], 'BPF_LOAD_MAP_CLOSED', /used after close/);
    map.close();
  });

  it('map-in-map: setInner by map or fd, getInnerId is the inner map id, openInner opens it', async () => {
    using inner = createTestMap({ type: BPF_MAP_TYPE.ARRAY, key: 4, value: 8, max: 4, name: 'inner' });
    using other = createTestMap({ type: BPF_MAP_TYPE.ARRAY, key: 4, value: 8, max: 4, name: 'other' });
    using outer = createTestMap({ type: BPF_MAP_TYPE.ARRAY_OF_MAPS, key: 4, value: 4, max: 2, inner, name: 'outer' });
    inner.typed(u32, u64).update(1, 99n);
    outer.setInner(0, inner);
    outer.setInner(1, other.fd);
    expect(outer.getInnerId(0)).to.equal(inner.id);
    expect(outer.getInnerId(1)).to.equal(other.id);
    const opened = outer.openInner(0)!;
    try {
      expect(opened.id).to.equal(inner.id);
      expect(opened.typed(u32, u64).lookup(1)).to.equal(99n);
    } finally {
      opened.close();
    }
    expectMapError(() => inner.setInner(0, other), 'BPF_LOAD_MAP', /setInner\(\) needs an array_of_maps or hash_of_maps map, this is array/);

    using hashOuter = createTestMap({ type: BPF_MAP_TYPE.HASH_OF_MAPS, key: 4, value: 4, max: 4, inner, name: 'houter' });
    expect(hashOuter.getInnerId(3)).to.equal(undefined);
    expect(hashOuter.openInner(3)).to.equal(undefined);
    hashOuter.setInner(3, other);
    expect(hashOuter.getInnerId(3)).to.equal(other.id);
    expect(hashOuter.delete(key32(3))).to.equal(true);

    // an inner map unlike the template: the kernel's bare EINVAL, explained
    using hash = createTestMap({ type: BPF_MAP_TYPE.HASH, key: 4, value: 8, max: 4, name: 'unlike' });
    const unlike = expectMapError(() => outer.setInner(1, hash), 'BPF_LOAD_MAP', /setInner: cannot put map fd \d+ at key 01000000: BPF_MAP_UPDATE_ELEM: EINVAL \(the inner map must match the template/);
    expect(unlike.errnoName).to.equal('EINVAL');
    expect(outer.getInnerId(1)).to.equal(other.id);
  });

  it('maps of a loaded object: obj.map(name, codecs), map-in-map from the object, per-CPU with value_size 12', async () => {
    const object = await loadBpfFile(fixturePath('map_def28_kern.o'));
    try {
      const numa = object.map('numa_hash', { key: u64, value: u64 });
      numa.update(1n << 40n, 5n);
      expect(numa.lookup(1n << 40n)).to.equal(5n);
      const outer = object.map('array_of_maps');
      outer.setInner(2, object.map('inner_array'));
      expect(outer.getInnerId(2)).to.equal(object.map('inner_array').id);
      expect(object.maps[5]!.valueBytes).to.equal(16 * object.maps[5]!.possibleCpus);
    } finally {
      object.close();
    }
  });

  describe('maps opened by pinned path, fd and id', function () {
    let dir = '';
    before(function () {
      requireKernel(this);
      dir = freshPinRoot('mapapi');
    });
    after(() => removePinRoot(dir));

    it('pin(), openPinnedMap() sees the same map with its type, sizes and name; bpftool reads the pin', () => {
      using map = createTestMap({ type: BPF_MAP_TYPE.HASH, key: 4, value: 4, max: 32, name: 'pinned_one' });
      const path = join(dir, 'pinned_one');
      map.pin(path);
      expect(map.pinnedPaths).to.deep.equal([path]);
      map.typed(u32, u32).update(3, 33);
      using opened = openPinnedMap(path);
      expect(opened.id).to.equal(map.id);
      expect([opened.type, opened.keySize, opened.valueSize, opened.maxEntries, opened.name]).to.deep.equal([
        BPF_MAP_TYPE.HASH, 4, 4, 32, 'pinned_one',
      ]);
      expect(opened.typed(u32, u32).lookup(3)).to.equal(33);
      const shown = bpftoolJson<{ id: number; name: string }>('map', 'show', 'pinned', path);
      expect(shown.id).to.equal(map.id);
      const dumped = bpftoolJson<{ key: string[]; value: string[] }[]>('map', 'dump', 'pinned', path);
      expect(dumped.map((e) => [bpftoolBytes(e.key).readUInt32LE(), bpftoolBytes(e.value).readUInt32LE()])).to.deep.equal([[3, 33]]);
      // a second pin of the same path is refused
      expectMapError(() => map.pin(path), 'BPF_LOAD_MAP', /cannot pin at .*EEXIST \(something is already pinned there/);
      // unpin(path) removes only a pin of this very map: not another map's pin, not a file off bpffs
      using other = createTestMap({ type: BPF_MAP_TYPE.HASH, key: 4, value: 4, max: 32, name: 'other_pin' });
      const otherPath = join(dir, 'other_pin');
      other.pin(otherPath);
      expectMapError(() => map.unpin(otherPath), 'BPF_LOAD_MAP_NOT_PINNED_HERE', /will not unpin .*another bpf object \(id \d+\), not this map/);
      expect(existsSync(otherPath)).to.equal(true);
      expect(other.unpin()).to.equal(true);
      const notAPin = fixturePath('socket_count_kern.o');
      expectMapError(() => map.unpin(notAPin), 'BPF_LOAD_MAP_NOT_PINNED_HERE', /not on a bpf filesystem/);
      expect(existsSync(notAPin)).to.equal(true);
      expect(map.unpin()).to.equal(true);
      expect(existsSync(path)).to.equal(false);
      expect(map.unpin(path)).to.equal(false);
    });

    it('a read-only open can look up but not update; a missing pin is a clear error', () => {
      using map = createTestMap({ type: BPF_MAP_TYPE.ARRAY, key: 4, value: 4, max: 2, name: 'ro_map' });
      const path = join(dir, 'ro_map');
      map.pin(path);
      try {
        map.typed(u32, u32).update(1, 7);
        using readOnly = openPinnedMap(path, { readOnly: true });
        expect(readOnly.typed(u32, u32).lookup(1)).to.equal(7);
        const refused = expectMapError(() => readOnly.typed(u32, u32).update(1, 8), 'BPF_LOAD_MAP', /update key 01000000/);
        expect(refused.errnoName).to.equal('EPERM');
        // EPERM would otherwise read as "needs root": say it is the fd's access mode
        expect(refused.hint).to.match(/^this fd is read-only/);
        expect(readOnly.typed(u32, u32).lookup(1)).to.equal(7);
        using writeOnly = openPinnedMap(path, { writeOnly: true });
        writeOnly.typed(u32, u32).update(1, 9);
        const unreadable = expectMapError(() => writeOnly.typed(u32, u32).lookup(1), 'BPF_LOAD_MAP', /lookup key 01000000.*EPERM \(this fd is write-only/);
        expect(unreadable.errnoName).to.equal('EPERM');
        expect(map.typed(u32, u32).lookup(1)).to.equal(9);
      } finally {
        map.unpin();
      }
      // nothing at a path the caller named is their input, like a missing object file
      const missing = expectMapError(() => openPinnedMap(join(dir, 'nothing')), 'BPF_LOAD_INPUT', /cannot open pinned map .*ENOENT \(nothing is pinned at that path\)/);
      expect(missing.errnoName).to.equal('ENOENT');
      // BPF_OBJ_GET answers EACCES for a file that is not on bpffs: not an access-mode problem
      const notBpffs = expectMapError(() => openPinnedMap(fixturePath('map_def28_kern.o')), 'BPF_LOAD_MAP', /EACCES \(the path is not on a bpf filesystem/);
      expect(notBpffs.errnoName).to.equal('EACCES');
    });

    it('openMapFd works on its own duplicate (the caller keeps its fd); openMapById finds a map by id', () => {
      const owner = mapCreate({ map_type: BPF_MAP_TYPE.HASH, key_size: 4, value_size: 4, max_entries: 4, map_flags: 0, map_name: 'by_fd' });
      try {
        const before = processFdCount();
        const map: BpfMap = openMapFd(owner.fd);
        expect(processFdCount()).to.equal(before + 1);
        expect(map.fd).to.not.equal(owner.fd);
        expect(map.name).to.equal('by_fd');
        map.typed(u32, u32).update(1, 2);
        const byId = openMapById(map.id);
        expect(byId.typed(u32, u32).lookup(1)).to.equal(2);
        byId.close();
        map.close();
        expect(processFdCount()).to.equal(before);
      } finally {
        owner.close();
      }
      expectMapError(() => openMapFd(0x7fff), 'BPF_LOAD_MAP', /cannot duplicate the map fd.*EBADF/);
    });

    it('a pinned program is not a map: openPinnedMap refuses it and closes what it opened', async () => {
      const object = await loadBpfFile(fixturePath('map_def28_kern.o'));
      const path = join(dir, 'a_program');
      try {
        objPin(object.prog_fd[0]!, path);
        const before = processFdCount();
        expectMapError(() => openPinnedMap(path), 'BPF_LOAD_MAP_NOT_A_MAP', /^map '.*a_program': is not a bpf map \(the fd is bpf-prog\)/);
        expect(processFdCount()).to.equal(before);
      } finally {
        object.close();
        rmSync(path, { force: true });
      }
    });

    it('an fd that is not a map is refused, and closed', () => {
      const before = processFdCount();
      const fd = openSync('/dev/null', 'r');
      try {
        expectMapError(() => openMapFd(fd), 'BPF_LOAD_MAP_NOT_A_MAP', new RegExp(`^map 'fd ${fd}': is not a bpf map \\(the fd is /dev/null\\)`));
      } finally {
        closeSync(fd);
      }
      expect(processFdCount()).to.equal(before);
    });
  });
});
