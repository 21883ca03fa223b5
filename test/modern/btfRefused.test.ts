import { expect } from 'chai';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadBpfFile, openPinnedMap, type LoadError } from '../../loader/index.js';
import { mapGetInfo } from '../../syscall/index.js';
import { freshPinRoot, removePinRoot } from '../support/bpffs.js';
import { bpftoolJson, bpftoolRun } from '../support/bpftool.js';
import { ElfPatch } from '../support/elfPatch.js';
import { fixturePath } from '../support/fixtures.js';
import { requireKernel, requireTool } from '../support/kernel.js';
import { CLI } from '../support/processes.js';

/**
 * An object whose BTF the kernel refuses: it loads without it, as libbpf does
 * (bpftool prog loadall is the oracle), with a warning carrying the kernel's
 * reason; maps are made without BTF ids and programs without func_info. An
 * object that cannot work without BTF in the kernel (a callback passed by
 * address) fails at once, naming what needs it, where libbpf fails too.
 */

/**
 * A copy of `fixture` whose .BTF names the function `name` with a '-' for its
 * first letter: no C identifier, so BPF_BTF_LOAD refuses the whole BTF
 * ("Invalid name") while everything bpf-load reads from it still holds.
 */
function withRefusedBtf(directory: string, fixture: string, name: string): string {
  const patch = new ElfPatch(readFileSync(fixturePath(fixture)));
  const index = patch.sectionIndex('.BTF');
  const start = Number(patch.sectionField(index, 'offset'));
  const btf = Buffer.from(patch.bytes.buffer, start, Number(patch.sectionField(index, 'size')));
  const at = btf.indexOf(Buffer.from(`\0${name}\0`));
  expect(at, `'${name}' in the .BTF strings of ${fixture}`).to.be.at.least(0);
  btf[at + 1] = '-'.charCodeAt(0);
  const path = join(directory, fixture.replace(/^.*\//, '').replace('.bpf.o', '_badbtf.bpf.o'));
  writeFileSync(path, patch.bytes);
  return path;
}

describe('modern objects: BTF the kernel refuses', function () {
  this.timeout(60000);
  let directory: string;
  let root: string | undefined;

  before(function () {
    requireKernel(this);
    requireTool(this, 'bpftool');
    directory = mkdtempSync(join(tmpdir(), 'bpf-load-badbtf-'));
    root = freshPinRoot('badbtf');
  });
  after(() => {
    if (directory) rmSync(directory, { recursive: true, force: true });
    removePinRoot(root);
  });

  it('loads without it, with a warning ending in the kernel\'s reason; maps without BTF ids, programs without func_info; as libbpf', async () => {
    const path = withRefusedBtf(directory, 'modern/typed_values.bpf.o', 'send_event');
    const warnings: string[] = [];
    const object = await loadBpfFile(path, { pinDir: join(root!, 'ours'), variables: { target_tgid: process.pid }, attach: true, onWarning: (w) => warnings.push(w) });
    try {
      const refused = warnings.filter((w) => w.includes('BTF'));
      expect(refused).to.have.length(1);
      expect(refused[0]).to.match(/: the kernel refused the object's BTF \(EINVAL\): maps and programs are loaded without it \(no BTF key\/value types, no source lines in verifier logs\)\nthe kernel's BTF log \(its last 3 of \d+ lines\):\n[^\n]+\n[^\n]+\n\[\d+\] FUNC -end_event type_id=\d+ Invalid name$/);
      for (const map of object.maps) {
        const info = mapGetInfo(map.fd);
        expect([map.name, info.btf_id, info.btf_key_type_id, info.btf_value_type_id]).to.deep.equal([map.name, 0, 0, 0]);
      }
      const program = bpftoolJson<{ btf_id?: number; name: string }>('prog', 'show', 'id', String(object.program('send_event').id));
      expect(program.btf_id ?? 0).to.equal(0);
      // the program runs: getppid() of this process counts in .bss, which the loaded object still reads by variable
      void process.ppid;
      void process.ppid;
      expect(object.variable('sent').get()).to.equal(2n);
      // typed() takes its codecs from the object's BTF, which user space still has; the kernel's map has none, so dump shows hex
      object.map('table').typed().update({ id: 3, tag: 'x' }, {
        state: 'STATE_IDLE', temperature: 0, total: 0n, name: '', samples: [0, 0, 0], inner: { delta: 0, flags: 0 }, low: 0, high: 0, u: { as_u32: 0 }, on: false,
      });
      expect(object.map('table').typed().lookup({ id: 3, tag: 'x' })).to.deep.include({ state: 0, on: false });
      const dump = spawnSync(process.execPath, [CLI, 'dump', join(root!, 'ours', 'maps', 'table')], { encoding: 'utf8' });
      expect(dump.status, dump.stderr).to.equal(0);
      expect(dump.stdout).to.contain('key: 03 00 00 00 78 00 00 00 00 00 00 00  value: 00').and.not.to.contain('BTF id');
    } finally {
      object.close();
    }
    // libbpf: "Error loading .BTF into kernel: -22. BTF is optional, ignoring." and the same maps without BTF
    const libbpfMaps = join(root!, 'libbpf_maps');
    bpftoolRun('prog', 'loadall', path, join(root!, 'libbpf_progs'), 'pinmaps', libbpfMaps);
    for (const name of readdirSync(libbpfMaps)) {
      const map = openPinnedMap(join(libbpfMaps, name), { readOnly: true });
      try {
        expect([name, map.info.btf_id]).to.deep.equal([name, 0]);
      } finally {
        map.close();
      }
    }
  });

  it('the CLI: the warning on stderr, the table on stdout, exit 0', () => {
    const path = withRefusedBtf(directory, 'modern/typed_values.bpf.o', 'send_event');
    const run = spawnSync(process.execPath, [CLI, path], { encoding: 'utf8' });
    expect(run.status, run.stderr).to.equal(0);
    expect(run.stderr).to.match(/^warning: .*typed_values_badbtf\.bpf\.o: the kernel refused the object's BTF \(EINVAL\): maps and programs are loaded without it/);
    expect(run.stderr).to.contain('Invalid name');
    expect(run.stdout).to.match(/\n3 +table +hash +12 +64 +64 +0x0 /).and.to.contain('send_event');
  });

  it('a callback passed by address needs func_info: a LoadError naming the program and callback, as libbpf fails', async () => {
    const path = withRefusedBtf(directory, 'modern/callbacks.bpf.o', 'add_index');
    const failed = await loadBpfFile(path).then(() => undefined, (error: unknown) => error as LoadError);
    expect(failed).to.be.an('error');
    expect(failed!.code).to.equal('BPF_LOAD_KERNEL');
    expect(failed!.errnoName).to.equal('EINVAL');
    expect(failed!.message).to.equal(
      `${path}: sec '.BTF': the kernel refused the object's BTF, and the object cannot load without it: program 'run_callbacks' passes ` +
        "'add_index' by address (a callback), which the verifier accepts only with BTF func_info: BPF_BTF_LOAD: EINVAL " +
        `(the kernel's BTF log ends: ${/\[\d+\] FUNC -dd_index type_id=\d+ Invalid name/.exec(failed!.message)?.[0] ?? '(no log line)'})`,
    );
    // libbpf loads the object too, and the verifier refuses the program
    const libbpf = spawnSync('bpftool', ['prog', 'loadall', path, join(root!, 'libbpf_callbacks')], { encoding: 'utf8' });
    expect(libbpf.status).to.not.equal(0);
    expect(libbpf.stderr).to.contain('BTF is optional, ignoring').and.to.contain('missing btf func_info');
    // the CLI: one line, exit 1
    const run = spawnSync(process.execPath, [CLI, path], { encoding: 'utf8' });
    expect(run.status).to.equal(1);
    expect(run.stderr.trim().split('\n')).to.have.length(1);
    expect(run.stderr).to.contain("program 'run_callbacks' passes 'add_index' by address");
  });

  it('a bpf_spin_lock in a map value and a task-storage map need it too: both named, as libbpf fails at the map', async () => {
    const path = withRefusedBtf(directory, 'modern/needs_btf.bpf.o', 'count_locked');
    const failed = await loadBpfFile(path).then(() => undefined, (error: unknown) => error as LoadError);
    expect(failed).to.be.an('error');
    expect(failed!.code).to.equal('BPF_LOAD_KERNEL');
    expect(failed!.message).to.contain(
      "the kernel refused the object's BTF, and the object cannot load without it: map 'locked' has a struct bpf_spin_lock in its value, " +
        "which the verifier knows only through BTF; map 'per_task' is a task_storage, which the kernel creates only with BTF key and value types",
    );
    const libbpf = spawnSync('bpftool', ['prog', 'loadall', path, join(root!, 'libbpf_needs_btf')], { encoding: 'utf8' });
    expect(libbpf.status).to.not.equal(0);
    expect(libbpf.stderr).to.contain('BTF is optional, ignoring').and.to.contain("map 'per_task': failed to create");
    // as it was built, it loads: the lock and the storage work with BTF
    using object = await loadBpfFile(fixturePath('modern/needs_btf.bpf.o'));
    expect(object.map('per_task').typeName).to.equal('task_storage');
  });
});
