import { expect } from 'chai';
import { join } from 'node:path';
import { readFileSync } from 'node:fs';
import {
  isBpfLoadError, loadBpfFile, loadBpfObject, parseObject, type BpfObject, type LoadError, type LoadOptions,
} from '../../loader/index.js';
import { freshPinRoot, removePinRoot } from '../support/bpffs.js';
import { bpftoolBytes, bpftoolJson } from '../support/bpftool.js';
import { fixturePath } from '../support/fixtures.js';
import { processFdCount, requireKernel } from '../support/kernel.js';

const TC_SECTIONS = fixturePath('tc_sections_kern.o');

/** slot -> program id in a pinned PROG_ARRAY, as bpftool reads it */
function progArraySlots(path: string): Map<number, number> {
  const entries = bpftoolJson<{ key: string[]; value: string[] }[]>('map', 'dump', 'pinned', path);
  return new Map(entries.map((e) => [bpftoolBytes(e.key).readUInt32LE(0), bpftoolBytes(e.value).readUInt32LE(0)]));
}

function refused(run: () => unknown): LoadError {
  try {
    const result = run() as BpfObject | undefined;
    result?.close();
  } catch (error) {
    expect(isBpfLoadError(error), String(error)).to.equal(true);
    return error as LoadError;
  }
  throw new Error('the load succeeded but should have been refused');
}

describe('kernel: tc objects, every section a program', function () {
  let root: string | undefined;
  const objects: BpfObject[] = [];
  before(function () {
    requireKernel(this);
  });
  beforeEach(function () {
    root = freshPinRoot(this.currentTest?.title.slice(0, 16) ?? 'tcprog');
  });
  afterEach(() => {
    for (const object of objects.splice(0)) object.close();
    removePinRoot(root);
    root = undefined;
  });
  const load = async (file: string, extra: LoadOptions = {}): Promise<BpfObject> => {
    const object = await loadBpfFile(file, { convention: 'tc', bpffs: root!, ...extra });
    objects.push(object);
    return object;
  };

  it('loads every section as sched_cls and puts <id>/<key> programs (decimal and hex ids) in the PROG_ARRAY with that id', async () => {
    const object = await load(TC_SECTIONS);
    expect(object.programs.map((p) => [p.section, p.typeName])).to.deep.equal([
      ['ingress', 'sched_cls'], ['egress', 'sched_cls'], ['1/0', 'sched_cls'], ['0xabc/1', 'sched_cls'],
    ]);
    // the kernel's word: bpftool reads the programs' types and the slots
    for (const program of object.programs) {
      expect(bpftoolJson<{ type: string }>('prog', 'show', 'id', String(program.id)).type).to.equal('sched_cls');
    }
    expect([...progArraySlots(join(root!, 'tc/globals/tc_jmp_dec'))]).to.deep.equal([[0, object.program('1/0').id]]);
    const hex = bpftoolJson<{ key: string[]; value: string[] }[]>('map', 'dump', 'id', String(object.map('tc_jmp_hex').id));
    expect(hex.map((e) => [bpftoolBytes(e.key).readUInt32LE(0), bpftoolBytes(e.value).readUInt32LE(0)]))
      .to.deep.equal([[1, object.program('0xabc/1').id]]);
  });

  it('programType types the untyped sections: act, and any program type name; named prefixes keep theirs', async () => {
    const act = await load(TC_SECTIONS, { programType: 'act' });
    expect(act.programs.map((p) => p.typeName)).to.deep.equal(['sched_act', 'sched_act', 'sched_act', 'sched_act']);
    const xmit = await load(fixturePath('tc_lwt_kern.o'), { programType: 'lwt_xmit' });
    expect(xmit.programs.map((p) => [p.section, bpftoolJson<{ type: string }>('prog', 'show', 'id', String(p.id)).type])).to.deep.equal([['len_hist', 'lwt_xmit']]);
    const prefixed = await load(fixturePath('tc_maps_kern.o'), { programType: 'act' });
    expect(prefixed.programs.map((p) => [p.section, p.typeName])).to.deep.equal([['classifier', 'sched_cls']]);
  });

  it('a program type name that is none is an argument error, before anything is loaded', async () => {
    const fds = processFdCount();
    const error = await load(TC_SECTIONS, { programType: 'sched_nonsense' }).then(() => undefined, (e: unknown) => e as LoadError);
    expect(error?.code).to.equal('BPF_LOAD_ARGUMENT');
    expect(error?.message).to.match(/programType 'sched_nonsense' is no program type \(cls, act, socket_filter/);
    expect(processFdCount()).to.equal(fds);
  });

  it('a second load grafts: the shared pinned PROG_ARRAY gets its slot updated to the new program', async () => {
    const first = await load(TC_SECTIONS);
    const second = await load(TC_SECTIONS);
    expect(second.map('tc_jmp_dec').id).to.equal(first.map('tc_jmp_dec').id);
    expect(progArraySlots(join(root!, 'tc/globals/tc_jmp_dec')).get(0)).to.equal(second.program('1/0').id);
    expect(second.program('1/0').id).to.not.equal(first.program('1/0').id);
  });

  it('selecting programs keeps the tail-call sections, as tc loads them with the section it is asked for', async () => {
    const object = await load(TC_SECTIONS, { programs: ['ingress'] });
    expect(object.programs.map((p) => p.section)).to.deep.equal(['ingress', '1/0', '0xabc/1']);
  });

  describe('tail-call sections that cannot be filled are errors naming section and map', () => {
    const spec = () => {
      const bytes = readFileSync(TC_SECTIONS);
      return parseObject(bytes, { file: TC_SECTIONS, convention: 'tc' });
    };

    it('an id no map has', () => {
      const parsed = spec();
      // what parsing a `99/0` section gives when no map has id 99
      parsed.programs['tail_dec']!.tailCall = { map: undefined, slot: 0, tcMapId: 99 };
      const fds = processFdCount();
      const error = refused(() => loadBpfObject(parsed, { bpffs: root! }));
      expect(error.message).to.match(/sec '1\/0': prog 'tail_dec': section name makes it slot 0 of the map with id 99, but no map has that id/);
      expect(error.hint).to.include('tc_jmp_dec=1');
      expect(processFdCount()).to.equal(fds);
    });

    it('an id of a map that is no PROG_ARRAY', () => {
      const parsed = spec();
      // what parsing a `7/0` section gives: the map with id 7
      parsed.programs['tail_dec']!.tailCall = { map: 'tc_inner', slot: 0, tcMapId: 7 };
      const error = refused(() => loadBpfObject(parsed, { bpffs: root! }));
      expect(error.message).to.match(/sec '1\/0': map 'tc_inner' \(#5\): prog 'tail_dec': section name makes it slot 0 of map id 7, which is a array, not a PROG_ARRAY/);
    });

    it('a key at or past max_elem', () => {
      const error = refused(() =>
        loadBpfObject(spec(), { bpffs: root!, fixupMap: (map) => { if (map.name === 'tc_jmp_hex') map.def.max_entries = 1; } }),
      );
      expect(error.message).to.match(/sec '0xabc\/1': map 'tc_jmp_hex' \(#4\): prog 'tail_hex': section name makes it slot 1 of map id 2748, which has 1 slots/);
    });
  });

  describe('the default convention', () => {
    it('loads a section with no known prefix when named with a type', async () => {
      const object = await loadBpfFile(fixturePath('free_sections_kern.o'), { programs: ['filter'], programType: 'socket_filter' });
      objects.push(object);
      expect(object.programs.map((p) => [p.section, p.name, p.typeName])).to.deep.equal([['filter', 'free_named', 'socket_filter']]);
      expect(bpftoolJson<{ type: string }>('prog', 'show', 'id', String(object.programs[0]!.id)).type).to.equal('socket_filter');
    });

    it('refuses a named section with no type, saying how to give one', async () => {
      const error = await loadBpfFile(fixturePath('free_sections_kern.o'), { programs: ['filter'] }).then(
        (o) => { o.close(); return undefined; },
        (e: unknown) => e as LoadError,
      );
      expect(error?.message).to.match(/sec 'filter': prog 'free_named': the section name says no program type \(give one with programType \(--type\)/);
    });

    it('warns about and lists the sections it skipped', async () => {
      const warnings: string[] = [];
      const object = await loadBpfFile(fixturePath('free_sections_kern.o'), { onWarning: (w) => warnings.push(w) });
      objects.push(object);
      expect(object.programs.map((p) => p.section)).to.deep.equal(['socket1']);
      expect(object.spec.skippedSections).to.deep.equal(['filter']);
      expect(warnings.join('\n')).to.match(/sec 'filter': executable section with no known program prefix, skipped/);
    });
  });
});
