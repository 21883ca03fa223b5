import { expect } from 'chai';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { copySpec, loadBpfFile, loadObject, readObjectSpec, setVariable, type ProgramLoadError } from '../../loader/index.js';
import { objectIdOf } from '../../syscall/index.js';
import { freshPinRoot, removePinRoot } from '../support/bpffs.js';
import { repoRoot } from '../support/fixtures.js';
import { requireFeature, requireKernel } from '../support/kernel.js';
import { compareWithLibbpf, libbpfOracleMissing } from '../support/libbpfOracle.js';
import { viewOf } from './view.js';

/** Variables before and after load, `.values` filled, pins by name, verifier logs with C source lines. */

const modern = (name: string): string => join(repoRoot, 'fixtures', 'modern', name);

describe('modern objects: variables, values, pins by name, source lines', function () {
  this.timeout(120000);

  it('globals.bpf.o: variables typed by BTF, in the spec (no privileges)', function () {
    const spec = readObjectSpec(modern('globals.bpf.o'));
    const { target_tgid, step, greeting, enabled, calls, sign, last, custom_counter } = spec.variables!;
    expect([target_tgid!.map, target_tgid!.type, target_tgid!.readOnly]).to.deep.equal(['globals.rodata', { kind: 'int', size: 4, signed: false }, true]);
    expect(step!.type).to.deep.equal({ kind: 'int', size: 8, signed: false });
    expect(greeting!.type).to.deep.equal({ kind: 'chars', length: 8 });
    expect(enabled!.type).to.deep.equal({ kind: 'bool' });
    expect([calls!.map, sign!.type]).to.deep.equal(['globals.data', { kind: 'int', size: 4, signed: true }]);
    expect([last!.map, last!.type]).to.deep.equal(['globals.bss', { kind: 'bytes', size: 24 }]);
    expect(custom_counter!.map).to.equal('.data.custom');
    const edited = copySpec(spec);
    expect(() => setVariable(edited, 'step', -1)).to.throw(/does not fit/);
    expect(() => setVariable(edited, 'greeting', 'too long a greeting')).to.throw(/char\[8\]/);
    expect(() => setVariable(edited, 'nope', 1)).to.throw(/no variable named 'nope'/);
  });

  describe('in the kernel', function () {
    before(function () {
      requireKernel(this);
    });

    it('globals.bpf.o: variables set before load change what the program does, and read back after', async function () {
      const obj = await loadBpfFile(modern('globals.bpf.o'), {
        variables: { target_tgid: process.pid, step: 5n, greeting: 'world' }, attach: true,
      });
      try {
        expect(obj.variable('step').get()).to.equal(5n);
        expect(obj.variable('greeting').get()).to.equal('world');
        void process.ppid;
        void process.ppid;
        expect(obj.variable('hits').get()).to.equal(10n);
        expect(obj.variable('custom_counter').get()).to.equal(52n);
        // greeting[0] is not 'h': the program flips sign
        expect(obj.variable('sign').get()).to.equal(1);
        expect(() => obj.variable('step').set(1n)).to.throw(/frozen/);
        obj.variable('hits').set(0n);
        void process.ppid;
        expect(obj.variable('hits').get()).to.equal(5n);
      } finally {
        obj.close();
      }
    });

    it('globals.bpf.o with variables set loads as libbpf does with the same variables', async function () {
      requireFeature(this, 'the libbpf oracle (cc, libbpf-dev, bpftool)', libbpfOracleMissing());
      const variables = { target_tgid: 4242, step: 3, enabled: false };
      const obj = await loadBpfFile(modern('globals.bpf.o'), { variables });
      try {
        const { differences } = await compareWithLibbpf(modern('globals.bpf.o'), viewOf(obj), { variables });
        expect(differences).to.deep.equal([]);
      } finally {
        obj.close();
      }
    });

    it('map_in_map.bpf.o and prog_array.bpf.o: `.values` are filled after load', async function () {
      const maps = await loadBpfFile(modern('map_in_map.bpf.o'));
      try {
        const outer = maps.map('outer_array');
        const idOf = (slot: number): number | undefined => {
          const inner = outer.openInner(slot);
          try {
            return inner && objectIdOf(inner.fd);
          } finally {
            inner?.close();
          }
        };
        expect([idOf(0), idOf(1), idOf(2)]).to.deep.equal([objectIdOf(maps.map('inner_a').fd), undefined, objectIdOf(maps.map('inner_b').fd)]);
      } finally {
        maps.close();
      }
      const progs = await loadBpfFile(modern('prog_array.bpf.o'));
      try {
        const table = progs.map('jump_table');
        const slots = [0, 1, 2, 3].map((slot) => table.lookup(Buffer.from([slot, 0, 0, 0])) !== undefined);
        expect(slots).to.deep.equal([true, false, true, false]);
      } finally {
        progs.close();
      }
    });

    it('pin_by_name.bpf.o: pinned at <root>/<name>, reused by the next load', async function () {
      const root = freshPinRoot('modern-pins');
      try {
        const first = await loadBpfFile(modern('pin_by_name.bpf.o'), { pinning: { root } });
        const id = objectIdOf(first.map('shared_counts').fd);
        first.close();
        expect(existsSync(join(root, 'shared_counts'))).to.equal(true);
        expect(existsSync(join(root, 'private_counts'))).to.equal(false);
        const second = await loadBpfFile(modern('pin_by_name.bpf.o'), { pinning: { root } });
        try {
          expect(objectIdOf(second.map('shared_counts').fd)).to.equal(id);
        } finally {
          second.close();
        }
      } finally {
        removePinRoot(root);
      }
    });

    it('a program the verifier refuses has its C source lines in the log', async function () {
      const spec = copySpec(readObjectSpec(modern('minimal.bpf.o')));
      // the first instruction reads through r2, which nothing set: the verifier refuses it (R2 !read_ok)
      spec.programs['count_getppid']!.insns.set([0x79, 0x20, 0, 0, 0, 0, 0, 0], 0);
      let error: ProgramLoadError | undefined;
      try {
        loadObject(spec).close();
      } catch (caught) {
        error = caught as ProgramLoadError;
      }
      expect(error?.verifierLog, String(error)).to.match(/R2 !read_ok/);
      expect(error!.verifierLog).to.match(/^; .*count_getppid/m);
    });
  });
});
