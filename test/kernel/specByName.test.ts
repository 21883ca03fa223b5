import { expect } from 'chai';
import { readFileSync } from 'node:fs';
import { pathToFileURL } from 'node:url';
import {
  BPF_MAP_TYPE, LoadError, copySpec, loadBpfFile, loadObject, mapOrder, parseObject, readObjectSpec, validateSpec, type BpfObject,
  type ObjectSpec,
} from '../../loader/index.js';
import { overrideBpfSyscall, openBpfFdCount } from '../../syscall/index.js';
import { bpftoolJson } from '../support/bpftool.js';
import { fixturePath } from '../support/fixtures.js';
import { requireKernel, requireTool } from '../support/kernel.js';
import { createTestMap } from '../support/maps.js';

const FIXTURE = 'xdp_blacklist_kern.o';

function spec(): ObjectSpec {
  return parseObject(readFileSync(fixturePath(FIXTURE)), { file: FIXTURE });
}

/** The load must be refused before the kernel is asked anything. */
function refusedBeforeAnySyscall(run: () => unknown): LoadError {
  let calls = 0;
  const fds = openBpfFdCount();
  const restore = overrideBpfSyscall((cmd, attr, size, real) => {
    calls++;
    return real(cmd, attr, size);
  });
  let error: unknown;
  try {
    (run() as BpfObject | undefined)?.close();
  } catch (e) {
    error = e;
  } finally {
    restore();
  }
  expect(error).to.be.instanceOf(LoadError);
  expect(calls, 'bpf(2) calls before the refusal').to.equal(0);
  expect(openBpfFdCount()).to.equal(fds);
  return error as LoadError;
}

/** What bpftool says: each program's map ids, and the name and type of each map id. */
function kernelView(object: BpfObject): { programs: Record<string, string[]>; maps: Record<string, string> } {
  const programs: Record<string, string[]> = {};
  const maps: Record<string, string> = {};
  for (const program of object.programs) {
    const shown = bpftoolJson<{ map_ids?: number[] }>('prog', 'show', 'id', String(program.id));
    programs[program.name] = (shown.map_ids ?? []).map((id) => {
      const map = bpftoolJson<{ name: string; type: string }>('map', 'show', 'id', String(id));
      maps[map.name] = map.type;
      return map.name;
    }).sort();
  }
  return { programs, maps };
}

describe('kernel: a spec edited by name loads what was asked, or is refused before any system call', function () {
  before(function () {
    requireKernel(this);
    requireTool(this, 'bpftool');
  });

  it('as parsed: each program uses the maps its relocations name (bpftool map_ids)', () => {
    const object = loadObject(spec());
    try {
      const view = kernelView(object);
      expect(view.programs).to.deep.equal({ xdp_blacklist: ['blacklist', 'verdict_cnt'] });
      expect(view.maps).to.deep.equal({ blacklist: 'percpu_hash', verdict_cnt: 'percpu_array' });
    } finally {
      object.close();
    }
  });

  it('swapped definitions: each name keeps its references and takes the other definition', () => {
    const edited = copySpec(spec());
    const { blacklist, verdict_cnt: verdict } = edited.maps;
    const shape = (m: typeof blacklist) => ({ type: m!.type, keySize: m!.keySize, valueSize: m!.valueSize, maxEntries: m!.maxEntries, flags: m!.flags });
    const [a, b] = [shape(blacklist), shape(verdict)];
    Object.assign(blacklist!, b);
    Object.assign(verdict!, a);
    const object = loadObject(edited);
    try {
      const view = kernelView(object);
      expect(view.programs).to.deep.equal({ xdp_blacklist: ['blacklist', 'verdict_cnt'] });
      expect(view.maps).to.deep.equal({ blacklist: 'percpu_array', verdict_cnt: 'percpu_hash' });
      expect(object.map('blacklist').def.max_entries).to.equal(b.maxEntries);
    } finally {
      object.close();
    }
  });

  it('maxEntries -1, an unknown map type, a removed map: refused before any system call, naming map and program', () => {
    const negative = spec();
    negative.maps['blacklist']!.maxEntries = -1;
    const range = refusedBeforeAnySyscall(() => loadObject(negative));
    expect(range.code).to.equal('BPF_LOAD_ARGUMENT');
    expect(range.message).to.include(`${FIXTURE}: sec 'maps': map 'blacklist' (#0): maxEntries is -1, not an unsigned 32-bit integer`);

    const unknown = spec();
    unknown.maps['verdict_cnt']!.type = 999;
    expect(refusedBeforeAnySyscall(() => loadObject(unknown)).message).to.include("map 'verdict_cnt' (#1): map type 999 is not a map type bpf-load knows");

    const removed = spec();
    delete removed.maps['verdict_cnt'];
    const gone = refusedBeforeAnySyscall(() => loadObject(removed));
    expect(gone.code).to.equal('BPF_LOAD_ARGUMENT');
    expect(gone.message).to.match(/sec 'xdp_prog': prog 'xdp_blacklist': insn \d+ refers to map 'verdict_cnt', which is no map of this spec \(maps: blacklist\)/);

    // an entry that is no MapSpec at all is a refusal naming it, not a TypeError from working out map_fd[]
    const broken = spec();
    (broken.maps as Record<string, unknown>)['verdict_cnt'] = null;
    const nulled = refusedBeforeAnySyscall(() => loadObject(broken));
    expect(nulled.code).to.equal('BPF_LOAD_ARGUMENT');
    expect(nulled.message).to.include("spec.maps['verdict_cnt'] is null, not a MapSpec");
    // and a program entry, which is ordered (prog_fd[]) before the spec is validated
    for (const where of ['first', 'last']) {
      const orphan = spec();
      (orphan as { programs: Record<string, unknown> }).programs = where === 'first' ? { stray: null, ...orphan.programs } : { ...orphan.programs, stray: null };
      const refused = refusedBeforeAnySyscall(() => loadObject(orphan));
      expect(refused.code).to.equal('BPF_LOAD_ARGUMENT');
      expect(refused.message).to.include("spec.programs['stray'] is not a ProgramSpec");
      expect(() => validateSpec(orphan)).to.throw("spec.programs['stray'] is not a ProgramSpec").with.property('code', 'BPF_LOAD_ARGUMENT');
    }
  });

  it('maps.replace: the programs use the open map handed in, which stays the caller\'s', () => {
    const own = createTestMap({ type: BPF_MAP_TYPE.PERCPU_ARRAY, key: 4, value: 8, max: 16, name: 'own_verdicts' });
    try {
      const object = loadObject(spec(), { maps: { replace: { verdict_cnt: own } } });
      try {
        const view = kernelView(object);
        expect(view.programs).to.deep.equal({ xdp_blacklist: ['blacklist', 'own_verdicts'] });
        expect(object.map('verdict_cnt').id).to.equal(own.id);
        expect(object.map('verdict_cnt').def.max_entries, 'as the kernel has it').to.equal(16);
      } finally {
        object.close();
      }
      expect(own.closed).to.equal(false);
      expect(own.info.max_entries).to.equal(16);
    } finally {
      own.close();
    }
  });

  it('maps.replace: a map of another shape or type is refused naming both; an unknown name is refused', () => {
    const hash = createTestMap({ type: BPF_MAP_TYPE.HASH, key: 4, value: 4, max: 16, name: 'wrong' });
    try {
      const fds = openBpfFdCount();
      let error: unknown;
      try {
        loadObject(spec(), { maps: { replace: { verdict_cnt: hash } } }).close();
      } catch (e) {
        error = e;
      }
      expect(error).to.be.instanceOf(LoadError);
      expect((error as Error).message).to.include(
        `map 'verdict_cnt' (#1): map 'wrong' (fd ${hash.fd}) does not match the spec of map 'verdict_cnt': type percpu_array (object) != hash`,
      ).and.to.include('value_size 8 (object) != 4');
      expect(openBpfFdCount()).to.equal(fds);
      const unknown = refusedBeforeAnySyscall(() => loadObject(spec(), { maps: { replace: { nothing: hash } } }));
      expect(unknown.message).to.include("maps.replace names map 'nothing', which is no map of this spec (maps: blacklist, verdict_cnt)");
    } finally {
      hash.close();
    }
  });

  it('options a call cannot use are refused, never ignored', () => {
    const refused = (options: object): string => refusedBeforeAnySyscall(() => loadObject(spec(), options as never)).message;
    expect(refused({ convention: 'tc' })).to.match(/loadObject: options\.convention is not an option of this call: the convention is how the file is read/);
    expect(refused({ reusePinned: true })).to.match(/options\.reusePinned must be given with pinDir/);
    expect(refused({ force: true })).to.match(/options\.force must be given with pinDir or a tc-convention spec/);
    expect(refused({ bpffs: '/sys/fs/bpf' })).to.match(/options\.bpffs must be given for a tc-convention spec only/);
    expect(refused({ programs: [] })).to.match(/options\.programs must be a non-empty array of program names or a predicate function/);
    expect(refused({ pinning: { dir: '/sys/fs/bpf/x' }, pinDir: '/sys/fs/bpf/x' })).to.match(/options\.pinDir must be given once \(options\.pinning\.dir gives it too\)/);
    expect(refused({ pinning: { directory: 'x' } })).to.match(/unknown options\.pinning 'directory'/);
  });

  it('the load leaves the caller\'s spec as it was, fixupMap included (it edits a copy)', () => {
    const original = spec();
    const before = structuredClone(original);
    const object = loadObject(original, {
      programs: { select: ['xdp_blacklist'], logLevel: 1 },
      fixupMap: (map) => void (map.name === 'blacklist' && (map.def.max_entries = 64)),
    });
    try {
      expect(object.map('blacklist').def.max_entries).to.equal(64);
      expect(object.spec.maps['blacklist']!.maxEntries).to.equal(64);
      expect(original).to.deep.equal(before);
      expect(object.programs[0]!.verifierLog).to.be.a('string');
    } finally {
      object.close();
    }
  });

  it('obj.map() and obj.program() after close() are errors; loadBpfFile takes a file: URL; map_fd[] is in offset order', async () => {
    const object = await loadBpfFile(pathToFileURL(fixturePath(FIXTURE)));
    expect(object.maps.map((m) => m.name)).to.deep.equal(mapOrder(readObjectSpec(fixturePath(FIXTURE))).map((m) => m.name));
    object.close();
    expect(() => object.map('blacklist')).to.throw(LoadError, /map\('blacklist'\): the object was closed/);
    expect(() => object.program('xdp_blacklist')).to.throw(LoadError, /program\('xdp_blacklist'\): the object was closed/);
  });
});
