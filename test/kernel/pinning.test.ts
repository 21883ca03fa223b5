import { expect } from 'chai';
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  loadBpfFile, loadBpfObject, LoadError, openPinnedMap, parseObject, mapOrder, renameMap, u32, u64,
} from '../../loader/index.js';
import { BPF_MAP_CREATE, BPF_OBJ_PIN, BPF_PROG_LOAD, errno, overrideBpfSyscall } from '../../syscall/index.js';
import { freshPinRoot, listTree, removePinRoot } from '../support/bpffs.js';
import { bpftoolBytes, bpftoolJson, bpftoolRun, type BpftoolMapShow } from '../support/bpftool.js';
import { fixtureBytes, fixturePath } from '../support/fixtures.js';
import { requireKernel } from '../support/kernel.js';
import { expectRejection } from '../support/rejections.js';

const DEF28_MAPS = [
  'array_of_maps', 'hash_of_maps', 'inner_array', 'inner_hash', 'lru_percpu_hash', 'name_longer_than_fifteen', 'numa_hash',
  'percpu_array',
];

/** Fail the nth and later calls of one bpf command with `err` (a retry must not slip through). */
function failNth(command: number, nth: number, err: number): { restore: () => void; calls: () => number } {
  let calls = 0;
  const restore = overrideBpfSyscall((cmd, attr, size, real) => {
    if (cmd === command && ++calls >= nth) return -err;
    return real(cmd, attr, size);
  });
  return { restore, calls: () => calls };
}

function countCalls(command: number): { restore: () => void; calls: () => number } {
  let calls = 0;
  const restore = overrideBpfSyscall((cmd, attr, size, real) => {
    if (cmd === command) calls++;
    return real(cmd, attr, size);
  });
  return { restore, calls: () => calls };
}

describe('kernel: loadBpfFile({ pinDir }) pins to bpffs', function () {
  let root: string | undefined;
  before(function () {
    requireKernel(this);
  });
  beforeEach(function () {
    root = freshPinRoot(this.currentTest?.title.slice(0, 20) ?? 'pin');
  });
  afterEach(() => {
    removePinRoot(root);
    root = undefined;
  });

  it('pins every map at DIR/maps/<name> and every program at DIR/progs/<name>; bpftool sees the same objects', async () => {
    const dir = join(root!, 'app');
    const object = await loadBpfFile(fixturePath('map_def28_kern.o'), { pinDir: dir });
    const ids = new Map(object.maps.map((m) => [m.name, m.id]));
    const programId = object.program('use_maps').id;
    object.close();
    // the pins keep the objects alive after every fd is closed
    expect(listTree(dir)).to.deep.equal(['maps/', ...DEF28_MAPS.map((n) => `maps/${n}`), 'progs/', 'progs/use_maps']);
    for (const name of DEF28_MAPS) {
      const shown = bpftoolJson<BpftoolMapShow>('map', 'show', 'pinned', join(dir, 'maps', name));
      expect(shown.id, name).to.equal(ids.get(name));
      expect(shown.name).to.equal(name.slice(0, 15));
    }
    const inner = bpftoolJson<BpftoolMapShow>('map', 'show', 'pinned', join(dir, 'maps', 'inner_array'));
    expect([inner.type, inner.bytes_key, inner.bytes_value, inner.max_entries]).to.deep.equal(['array', 4, 8, 16]);
    const outer = bpftoolJson<BpftoolMapShow>('map', 'show', 'pinned', join(dir, 'maps', 'hash_of_maps'));
    expect([outer.type, outer.bytes_key, outer.bytes_value, outer.max_entries]).to.deep.equal(['hash_of_maps', 4, 4, 8]);
    const numa = bpftoolJson<BpftoolMapShow>('map', 'show', 'pinned', join(dir, 'maps', 'numa_hash'));
    expect([numa.type, numa.bytes_key, numa.bytes_value, numa.max_entries, numa.flags]).to.deep.equal(['hash', 8, 8, 64, 4]);
    const program = bpftoolJson<{ id: number; type: string; name: string }>('prog', 'show', 'pinned', join(dir, 'progs', 'use_maps'));
    expect([program.id, program.type, program.name]).to.deep.equal([programId, 'socket_filter', 'use_maps']);
  });

  it('bpftool dumps what this package wrote, and this package reads what bpftool wrote', async () => {
    const dir = join(root!, 'app');
    const path = join(dir, 'maps', 'counts');
    const object = await loadBpfFile(fixturePath('socket_count_kern.o'), { pinDir: dir });
    try {
      object.map('counts').typed(u32, u64).update(1, 0x1122334455n);
    } finally {
      object.close();
    }
    const dumped = bpftoolJson<{ key: string[]; value: string[] }[]>('map', 'dump', 'pinned', path);
    const byKey = new Map(dumped.map((e) => [bpftoolBytes(e.key).readUInt32LE(0), bpftoolBytes(e.value).readBigUInt64LE(0)]));
    expect(byKey.get(1)).to.equal(0x1122334455n);
    expect(byKey.get(0)).to.equal(0n);

    bpftoolRun('map', 'update', 'pinned', path, 'key', 'hex', '00', '00', '00', '00', 'value', 'hex', '2a', '00', '00', '00', '00', '00', '00', '01');
    const reopened = openPinnedMap(path);
    try {
      expect(reopened.typed(u32, u64).lookup(0)).to.equal(0x010000000000002an);
      expect(reopened.typed(u32, u64).lookup(1)).to.equal(0x1122334455n);
    } finally {
      reopened.close();
    }
  });

  it('openPinnedMap reads a map that bpftool created and pinned', () => {
    const path = join(root!, 'made_by_bpftool');
    bpftoolRun('map', 'create', path, 'type', 'hash', 'key', '4', 'value', '8', 'entries', '16', 'name', 'm');
    bpftoolRun('map', 'update', 'pinned', path, 'key', '7', '0', '0', '0', 'value', '99', '0', '0', '0', '0', '0', '0', '0');
    const map = openPinnedMap(path);
    try {
      expect([map.type, map.keySize, map.valueSize, map.maxEntries, map.info.name]).to.deep.equal([1, 4, 8, 16, 'm']);
      expect([...map.typed(u32, u64).entries()]).to.deep.equal([[7, 99n]]);
    } finally {
      map.close();
    }
  });

  it('refuses to replace existing pins, before creating anything; force replaces them', async () => {
    const dir = join(root!, 'app');
    const first = await loadBpfFile(fixturePath('socket_count_kern.o'), { pinDir: dir });
    const firstMapId = first.map('counts').id;
    const firstProgramId = first.program('count_packets').id;
    first.close();

    const creates = countCalls(BPF_MAP_CREATE);
    let refused: LoadError;
    try {
      refused = await expectRejection(loadBpfFile(fixturePath('socket_count_kern.o'), { pinDir: dir }));
    } finally {
      creates.restore();
    }
    expect(refused.message).to.match(/already pinned/).and.to.contain('counts').and.to.contain('--force');
    expect(creates.calls(), 'maps created before the refusal').to.equal(0);
    expect(bpftoolJson<BpftoolMapShow>('map', 'show', 'pinned', join(dir, 'maps', 'counts')).id).to.equal(firstMapId);

    const second = await loadBpfFile(fixturePath('socket_count_kern.o'), { pinDir: dir, force: true });
    try {
      const pinnedMap = bpftoolJson<BpftoolMapShow>('map', 'show', 'pinned', join(dir, 'maps', 'counts'));
      expect(pinnedMap.id).to.equal(second.map('counts').id).and.not.equal(firstMapId);
      const pinnedProgram = bpftoolJson<{ id: number }>('prog', 'show', 'pinned', join(dir, 'progs', 'count_packets'));
      expect(pinnedProgram.id).to.equal(second.program('count_packets').id).and.not.equal(firstProgramId);
    } finally {
      second.close();
    }
  });

  it('reusePinned reuses a compatible pinned map (same id, same contents) and never removes it', async () => {
    const dir = join(root!, 'app');
    const first = await loadBpfFile(fixturePath('socket_count_kern.o'), { pinDir: dir });
    const mapId = first.map('counts').id;
    first.map('counts').typed(u32, u64).update(0, 41n);
    first.close();

    // programs are new objects on every load: replacing their pins still takes force, and without
    // it the load is refused before any program is loaded
    const loads = countCalls(BPF_PROG_LOAD);
    let refused: LoadError;
    try {
      refused = await expectRejection(loadBpfFile(fixturePath('socket_count_kern.o'), { pinDir: dir, reusePinned: true }));
    } finally {
      loads.restore();
    }
    expect(refused.message).to.contain(`programs are already pinned in ${join(dir, 'progs')}: count_packets`).and.to.contain('--force');
    expect(loads.calls(), 'programs loaded before the refusal').to.equal(0);
    const second = await loadBpfFile(fixturePath('socket_count_kern.o'), { pinDir: dir, reusePinned: true, force: true });
    const secondProgramId = second.program('count_packets').id;
    try {
      expect(second.map('counts').id).to.equal(mapId);
      expect(second.map('counts').typed(u32, u64).lookup(0)).to.equal(41n);
    } finally {
      second.close();
    }

    // a failed reload keeps the reused map pinned and puts the replaced program pin back
    const injected = failNth(BPF_PROG_LOAD, 1, errno.EPERM);
    try {
      await expectRejection(loadBpfFile(fixturePath('socket_count_kern.o'), { pinDir: dir, reusePinned: true, force: true }));
    } finally {
      injected.restore();
    }
    expect(bpftoolJson<BpftoolMapShow>('map', 'show', 'pinned', join(dir, 'maps', 'counts')).id).to.equal(mapId);
    expect(bpftoolJson<{ id: number }>('prog', 'show', 'pinned', join(dir, 'progs', 'count_packets')).id).to.equal(secondProgramId);
  });

  it('reusePinned refuses a pinned map that differs, naming both sides', async () => {
    const dir = join(root!, 'app');
    const path = join(dir, 'maps', 'counts');
    execFileSync('mkdir', ['-p', join(dir, 'maps')]);
    bpftoolRun('map', 'create', path, 'type', 'array', 'key', '4', 'value', '8', 'entries', '3', 'name', 'counts');
    const error = await expectRejection(loadBpfFile(fixturePath('socket_count_kern.o'), { pinDir: dir, reusePinned: true }));
    expect(error.message).to.contain(`max_entries 2 (object) != 3 (pinned at ${path})`).and.to.contain("map 'counts'");
    expect(listTree(dir), 'the failed load left only what was there').to.deep.equal(['maps/', 'maps/counts']);

    rmSync(path);
    bpftoolRun('map', 'create', path, 'type', 'hash', 'key', '4', 'value', '4', 'entries', '2', 'name', 'counts');
    const error2 = await expectRejection(loadBpfFile(fixturePath('socket_count_kern.o'), { pinDir: dir, reusePinned: true }));
    expect(error2.message)
      .to.contain(`type array (object) != hash (pinned at ${path})`)
      .and.to.contain(`value_size 8 (object) != 4 (pinned at ${path})`);

    // a program pinned where the map should be: said so, not compared field by field as if it were a map
    rmSync(path);
    const other = join(root!, 'other');
    (await loadBpfFile(fixturePath('socket_count_kern.o'), { pinDir: other })).close();
    execFileSync('ln', [join(other, 'progs', 'count_packets'), path]);
    const error3 = await expectRejection(loadBpfFile(fixturePath('socket_count_kern.o'), { pinDir: dir, reusePinned: true }));
    expect(error3.message).to.contain(`'${path}' pins a bpf-prog, not a map, so it cannot be reused as map 'counts'`);
    expect(error3.message).to.not.contain('key_size');
    expect(listTree(dir)).to.deep.equal(['maps/', 'maps/counts']);
    // with force, the program's pin is replaced by the new map
    using replaced = await loadBpfFile(fixturePath('socket_count_kern.o'), { pinDir: dir, reusePinned: true, force: true });
    expect(bpftoolJson<BpftoolMapShow>('map', 'show', 'pinned', path).id).to.equal(replaced.map('counts').id);
  });

  it('a failed load removes the pins and directories it created', async () => {
    const dir = join(root!, 'app');
    // three maps pinned, the fourth pin fails
    const injected = failNth(BPF_OBJ_PIN, 4, errno.EPERM);
    let error: LoadError;
    try {
      error = await expectRejection(loadBpfFile(fixturePath('map_def28_kern.o'), { pinDir: dir }));
    } finally {
      injected.restore();
    }
    expect(injected.calls()).to.equal(4);
    expect(error.message).to.contain('cannot pin at').and.to.contain('EPERM');
    expect(existsSync(dir), `${dir} left behind: ${listTree(root!).join(' ')}`).to.equal(false);

    // every map pinned, then the program fails to load
    const late = failNth(BPF_PROG_LOAD, 1, errno.EACCES);
    try {
      await expectRejection(loadBpfFile(fixturePath('map_def28_kern.o'), { pinDir: dir }));
    } finally {
      late.restore();
    }
    expect(listTree(root!)).to.deep.equal([]);
  });

  it('refuses a pin directory that is not on bpffs, saying how to mount one', async () => {
    const elsewhere = mkdtempSync(join(tmpdir(), 'bpf-load-not-bpffs-'));
    try {
      const error = await expectRejection(loadBpfFile(fixturePath('socket_count_kern.o'), { pinDir: join(elsewhere, 'app') }));
      expect(error.message).to.contain('is not on a bpf filesystem').and.to.contain('mount -t bpf bpf');
      // on the pin directory itself, never over the existing parent (a bpffs over /tmp would hide it)
      expect(error.message).to.contain(`mkdir -p ${join(elsewhere, 'app')} && mount -t bpf bpf ${join(elsewhere, 'app')})`);
      expect(listTree(elsewhere)).to.deep.equal([]);
    } finally {
      rmSync(elsewhere, { recursive: true, force: true });
    }
  });

  it("refuses a pin directory with '.' in a new component (bpffs would refuse it)", async () => {
    const creates = countCalls(BPF_MAP_CREATE);
    let error: LoadError;
    try {
      error = await expectRejection(loadBpfFile(fixturePath('socket_count_kern.o'), { pinDir: join(root!, 'my.app') }));
    } finally {
      creates.restore();
    }
    expect(error.message).to.contain("'my.app' contains '.'");
    expect(creates.calls(), 'refused before any map was created').to.equal(0);
    expect(listTree(root!)).to.deep.equal([]);
  });

  it("pins a map whose name has '.' (which bpffs refuses) under '_', and refuses two maps that would collide", () => {
    const dir = join(root!, 'app');
    const spec = parseObject(fixtureBytes('socket_count_kern.o'), { file: 'socket_count_kern.o' });
    renameMap(spec, mapOrder(spec)[0]!.name, 'count_packets.counts');
    const warnings: string[] = [];
    const object = loadBpfObject(spec, { pinDir: dir, onWarning: (w) => warnings.push(w) });
    try {
      expect(listTree(join(dir, 'maps'))).to.deep.equal(['count_packets_counts']);
      expect(warnings).to.deep.equal(["map 'count_packets.counts' is pinned as 'count_packets_counts': bpffs refuses '.' in names"]);
    } finally {
      object.close();
    }

    const two = parseObject(fixtureBytes('map_def28_kern.o'), { file: 'map_def28_kern.o' });
    const [first, , , fourth] = mapOrder(two);
    renameMap(two, first!.name, 'a.b');
    renameMap(two, fourth!.name, 'a_b');
    expect(() => loadBpfObject(two, { pinDir: join(root!, 'two') }).close()).to.throw(LoadError, /maps 'a.b' and 'a_b' would both be pinned as 'a_b'/);
    expect(existsSync(join(root!, 'two'))).to.equal(false);
  });

  it('mounts bpffs at /sys/fs/bpf when nothing is mounted there, as bpftool does (private mount namespace)', function () {
    const loader = new URL('../../loader/index.js', import.meta.url).href;
    const script = [
      `import { loadBpfFileSync } from '${loader}';`,
      `const object = loadBpfFileSync(${JSON.stringify(fixturePath('socket_count_kern.o'))}, { pinDir: '/sys/fs/bpf/automount/app' });`,
      'object.close();',
    ].join('\n');
    const shell = [
      'while mountpoint -q /sys/fs/bpf; do umount -l /sys/fs/bpf; done',
      'stat -f -c "before %t" /sys/fs/bpf',
      `node --input-type=module -e "$SCRIPT"`,
      'stat -f -c "after %t" /sys/fs/bpf',
      'ls /sys/fs/bpf/automount/app/maps',
    ].join(' && ');
    const output = execFileSync('unshare', ['--mount', '--propagation', 'private', 'sh', '-c', shell], {
      encoding: 'utf8',
      env: { ...process.env, SCRIPT: script },
      cwd: fileURLToPath(new URL('.', import.meta.url)),
    });
    expect(output).to.match(/before (?!cafe4a11)/).and.to.contain('after cafe4a11').and.to.match(/^counts$/m);
  });
});
