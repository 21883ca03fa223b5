import { expect } from 'chai';
import { loadBpfFile } from '../../loader/load/loadBpfFile.js';
import { LoadError } from '../../loader/errors.js';
import { BPF_MAP_UPDATE_ELEM, BPF_PROG_LOAD, errno, openBpfFdCount } from '../../syscall/index.js';
import { FakeKernel, withFakeKernel } from '../support/fakeKernel.js';
import { processFdCount } from '../support/kernel.js';
import { fixturePath } from '../support/fixtures.js';

/**
 * Fault injection past the maps: a program load (or a tail-call slot fill)
 * failing after the maps and earlier programs exist must close all of them.
 * tailcall_kern.o has 2 maps, 3 programs and fills a prog array after loading.
 */
const FIXTURE = 'tailcall_kern.o';
const PROGRAMS = ['dispatch', 'odd', 'even'];

/** union bpf_attr for BPF_PROG_LOAD: prog_name[16] at offset 48 */
function progName(attr: Buffer): string {
  const raw = attr.subarray(48, 64);
  const end = raw.indexOf(0);
  return raw.subarray(0, end < 0 ? raw.length : end).toString('latin1');
}

async function loadWith(fault: (cmd: number, attr: Buffer) => number | undefined): Promise<unknown> {
  try {
    await withFakeKernel(new FakeKernel((cmd, attr) => fault(cmd, attr)), async () => (await loadBpfFile(fixturePath(FIXTURE))).close());
    return undefined;
  } catch (error) {
    return error;
  }
}

describe('loader (fake kernel): a failure after the maps closes maps and programs', () => {
  for (const name of ['EPERM', 'ENOMEM', 'EINVAL'] as const) {
    it(`BPF_PROG_LOAD ${name} at each of the ${PROGRAMS.length} programs of ${FIXTURE}`, async () => {
      for (let k = 0; k < PROGRAMS.length; k++) {
        const bpfFds = openBpfFdCount();
        const processFds = processFdCount();
        // every attempt at program k fails: the loader may retry (e.g. with a verifier log)
        const attempts = new Set<string>();
        const error = await loadWith((cmd, attr) => {
          if (cmd !== BPF_PROG_LOAD) return undefined;
          attempts.add(progName(attr));
          return progName(attr) === PROGRAMS[k] ? -errno[name] : undefined;
        });
        expect(error, `k=${k}`).to.be.instanceOf(LoadError);
        const loadError = error as LoadError;
        expect(loadError.message.startsWith(fixturePath(FIXTURE)), loadError.message).to.equal(true);
        expect(loadError.message).to.include(`prog '${PROGRAMS[k]}'`);
        expect(loadError.message).to.include(`BPF_PROG_LOAD: ${name}`);
        expect(loadError.errnoName).to.equal(name);
        expect([...attempts], 'programs after the failing one are not tried').to.deep.equal(PROGRAMS.slice(0, k + 1));
        expect(openBpfFdCount(), `BpfFds after a failure at program ${k}`).to.equal(bpfFds);
        expect(processFdCount(), `process fds after a failure at program ${k}`).to.equal(processFds);
      }
    });
  }

  it('a failing tail-call slot fill (BPF_MAP_UPDATE_ELEM) after every program loaded closes everything', async () => {
    const bpfFds = openBpfFdCount();
    const processFds = processFdCount();
    let updates = 0;
    const error = await loadWith((cmd) => (cmd === BPF_MAP_UPDATE_ELEM && updates++ === 0 ? -errno.E2BIG : undefined));
    expect(updates, 'the loader fills prog array slots').to.be.greaterThan(0);
    expect(error).to.be.instanceOf(Error);
    expect((error as Error).message).to.include(fixturePath(FIXTURE));
    expect((error as Error).message).to.include('E2BIG');
    expect(openBpfFdCount()).to.equal(bpfFds);
    expect(processFdCount()).to.equal(processFds);
  });
});
