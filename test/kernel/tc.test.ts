import { expect } from 'chai';
import { execFileSync } from 'node:child_process';
import { mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { isBpfLoadError, loadBpfFile, loadBpfObject, parseObject, type BpfObject, type LoadError, type LoadOptions } from '../../loader/index.js';
import { BPF_PROG_LOAD, errno, overrideBpfSyscall } from '../../syscall/index.js';
import { freshPinRoot, listTree, removePinRoot } from '../support/bpffs.js';
import { bpftoolBytes, bpftoolJson, bpftoolRun, type BpftoolMapShow } from '../support/bpftool.js';
import { fixturePath } from '../support/fixtures.js';
import { requireKernel } from '../support/kernel.js';
import { expectRejection } from '../support/rejections.js';

const FIXTURE = fixturePath('tc_maps_kern.o');
/** what `sha1sum` says, an independent reading of tc's object directory name */
const OBJECT_SHA1 = execFileSync('sha1sum', [FIXTURE], { encoding: 'utf8' }).split(' ')[0]!;

/** The inner map id in an outer map's slot, as bpftool reads it. */
function slotWithBpftool(outerPath: string, slot: number): number | undefined {
  const entries = bpftoolJson<{ key: string[]; value: string[] }[]>('map', 'dump', 'pinned', outerPath);
  const entry = entries.find((e) => bpftoolBytes(e.key).readUInt32LE(0) === slot);
  return entry ? bpftoolBytes(entry.value).readUInt32LE(0) : undefined;
}

describe('kernel: the iproute2 tc layout (convention tc)', function () {
  let root: string | undefined;
  let options: LoadOptions;
  const objects: BpfObject[] = [];
  before(function () {
    requireKernel(this);
  });
  beforeEach(function () {
    root = freshPinRoot(this.currentTest?.title.slice(0, 20) ?? 'tc');
    options = { convention: 'tc', bpffs: root };
  });
  afterEach(() => {
    for (const object of objects.splice(0)) object.close();
    removePinRoot(root);
    root = undefined;
  });
  const load = async (extra: LoadOptions = {}): Promise<BpfObject> => {
    const object = await loadBpfFile(FIXTURE, { ...options, ...extra });
    objects.push(object);
    return object;
  };

  it('pins PIN_GLOBAL_NS maps in tc/globals, PIN_OBJECT_NS in tc/<sha1 of the file>, PIN_NONE nowhere', async () => {
    const object = await load();
    expect(listTree(root!)).to.deep.equal([
      'ip',
      'tc/',
      `tc/${OBJECT_SHA1}/`,
      `tc/${OBJECT_SHA1}/tc_object_flows`,
      'tc/globals/',
      'tc/globals/tc_global_counts',
      'tc/globals/tc_outer',
      'xdp',
    ]);
    // as tc makes them: ip (XDP) objects find the same maps through xdp/ -> tc/
    expect(bpftoolJson<BpftoolMapShow>('map', 'show', 'pinned', join(root!, 'xdp/globals/tc_outer')).id).to.equal(object.map('tc_outer').id);
    const counts = bpftoolJson<BpftoolMapShow>('map', 'show', 'pinned', join(root!, 'tc/globals/tc_global_counts'));
    expect([counts.id, counts.type, counts.bytes_key, counts.bytes_value, counts.max_entries]).to.deep.equal([
      object.map('tc_global_counts').id, 'array', 4, 8, 4,
    ]);
    const flows = bpftoolJson<BpftoolMapShow>('map', 'show', 'pinned', join(root!, 'tc', OBJECT_SHA1, 'tc_object_flows'));
    expect([flows.id, flows.type, flows.flags, flows.max_entries]).to.deep.equal([object.map('tc_object_flows').id, 'hash', 1, 64]);
    expect(object.program('cls_count').typeName).to.equal('sched_cls');
  });

  it('a second load shares the pinned maps, as tc does; PIN_NONE maps are its own', async () => {
    const first = await load();
    const second = await load();
    for (const name of ['tc_global_counts', 'tc_object_flows', 'tc_outer']) {
      expect(second.map(name).id, name).to.equal(first.map(name).id);
    }
    for (const name of ['tc_private', 'tc_inner']) {
      expect(second.map(name).id, name).to.not.equal(first.map(name).id);
    }
    const key = Buffer.from([1, 0, 0, 0]);
    first.map('tc_object_flows').update(key, Buffer.from([7, 0, 0, 0, 0, 0, 0, 0]));
    expect(second.map('tc_object_flows').lookup(key)).to.deep.equal(Buffer.from([7, 0, 0, 0, 0, 0, 0, 0]));
  });

  it('map-in-map: the outer map is made from the template named by inner_id, and holds the inner map at inner_idx', async () => {
    const first = await load();
    const outerPath = join(root!, 'tc/globals/tc_outer');
    expect(slotWithBpftool(outerPath, 3)).to.equal(first.map('tc_inner').id);
    expect(bpftoolJson<unknown[]>('map', 'dump', 'pinned', outerPath)).to.have.length(1);
    // the shared outer map's slot now holds the second load's inner map
    const second = await load();
    expect(slotWithBpftool(outerPath, 3)).to.equal(second.map('tc_inner').id);
    expect(second.map('tc_outer').getInnerId(3)).to.equal(second.map('tc_inner').id);
  });

  it('a failed load gives a shared outer map its slot back and leaves the shared pins alone', async () => {
    const first = await loadBpfFile(FIXTURE, options);
    const firstInner = first.map('tc_inner').id;
    const firstOuter = first.map('tc_outer').id;
    // from now on only the outer map's slot keeps the first inner map alive, as after `tc` exits
    first.close();
    const outerPath = join(root!, 'tc/globals/tc_outer');
    const before = listTree(root!);
    const restore = overrideBpfSyscall((cmd, attr, size, real) => (cmd === BPF_PROG_LOAD ? -errno.EPERM : real(cmd, attr, size)));
    try {
      await expectRejection(loadBpfFile(FIXTURE, options));
    } finally {
      restore();
    }
    expect(slotWithBpftool(outerPath, 3)).to.equal(firstInner);
    expect(listTree(root!)).to.deep.equal(before);
    expect(bpftoolJson<BpftoolMapShow>('map', 'show', 'pinned', outerPath).id).to.equal(firstOuter);
  });

  it('refuses a pinned map that differs from the definition, naming both sides; the failed load pins nothing', async () => {
    const path = join(root!, 'tc/globals/tc_global_counts');
    mkdirSync(join(root!, 'tc/globals'), { recursive: true });
    bpftoolRun('map', 'create', path, 'type', 'array', 'key', '4', 'value', '8', 'entries', '8', 'name', 'tc_global_counts');
    const error = await expectRejection(loadBpfFile(FIXTURE, options));
    expect(error.message).to.contain(`max_entries 4 (object) != 8 (pinned at ${path})`).and.to.contain("map 'tc_global_counts'");
    expect(listTree(root!)).to.deep.equal(['tc/', 'tc/globals/', 'tc/globals/tc_global_counts']);
  });

  it('force replaces a differing pinned map', async () => {
    const path = join(root!, 'tc/globals/tc_global_counts');
    mkdirSync(join(root!, 'tc/globals'), { recursive: true });
    bpftoolRun('map', 'create', path, 'type', 'array', 'key', '4', 'value', '8', 'entries', '8', 'name', 'tc_global_counts');
    const object = await load({ force: true });
    const shown = bpftoolJson<BpftoolMapShow>('map', 'show', 'pinned', path);
    expect([shown.id, shown.max_entries]).to.deep.equal([object.map('tc_global_counts').id, 4]);
  });

  it('PIN_OBJECT_NS needs the hash of the file: loadBpfObject says so when the spec lacks sourceHash', async () => {
    const bytes = readFileSync(FIXTURE);
    let refused: unknown;
    try {
      const unhashed = parseObject(bytes, { file: 'tc_maps_kern.o', convention: 'tc' });
      expect(unhashed.sourceHash).to.equal(OBJECT_SHA1);
      unhashed.sourceHash = undefined;
      loadBpfObject(unhashed, { bpffs: root! }).close();
    } catch (error) {
      refused = error;
    }
    expect(isBpfLoadError(refused)).to.equal(true);
    expect((refused as Error).message).to.contain('SHA-1');
    expect(listTree(root!), 'refused before anything was made').to.deep.equal([]);

    const spec = parseObject(bytes, { file: 'tc_maps_kern.o', convention: 'tc' });
    const object = loadBpfObject(spec, { bpffs: root! });
    objects.push(object);
    expect(listTree(root!)).to.include(`tc/${OBJECT_SHA1}/tc_object_flows`);
  });

  it('an inner_idx outside the outer map is refused as tc does, and the load leaves nothing behind', () => {
    const bytes = readFileSync(FIXTURE);
    const spec = parseObject(bytes, { file: 'tc_maps_kern.o', convention: 'tc' });
    spec.maps['tc_outer']!.contents = [{ slot: 9, map: 'tc_inner' }];
    let refused: LoadError | undefined;
    try {
      loadBpfObject(spec, { bpffs: root! }).close();
    } catch (error) {
      refused = error as LoadError;
    }
    expect(refused?.message).to.contain("cannot insert map 'tc_inner' into map-in-map at inner_idx 9");
    expect(refused?.hint).to.equal('the outer map has 4 elements, index 9 is out of range');
    expect(refused?.errnoName).to.be.a('string');
    expect(listTree(root!)).to.deep.equal([]);
  });

  it('pinDir with the tc convention pins every map under DIR as well', async () => {
    const dir = join(root!, 'app');
    const object = await load({ pinDir: dir });
    expect(listTree(dir)).to.deep.equal([
      'maps/', 'maps/tc_global_counts', 'maps/tc_inner', 'maps/tc_object_flows', 'maps/tc_outer', 'maps/tc_private',
      'progs/', 'progs/cls_count',
    ]);
    expect(bpftoolJson<BpftoolMapShow>('map', 'show', 'pinned', join(dir, 'maps/tc_outer')).id).to.equal(object.map('tc_outer').id);
  });
});
