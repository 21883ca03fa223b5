import { expect } from 'chai';
import { existsSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { objGet, objectIdOf } from '../../syscall/index.js';
import { bpftoolJson } from '../support/bpftool.js';
import { buildManyMapsObject } from '../support/manyMaps.js';
import { requireKernel, requireTool } from '../support/kernel.js';
import { CLI, PUBLIC_API, sleep, startNode, waitUntil } from '../support/processes.js';

const MAPS = 2000;

/** Ids of what is pinned under DIR: every map pin, and the maps the program pin uses. */
function pinSet(directory: string): { maps: number[]; programMaps: number[] | undefined } {
  const mapsDirectory = join(directory, 'maps');
  const names = existsSync(mapsDirectory) ? readdirSync(mapsDirectory) : [];
  const maps = names.map((name) => {
    const fd = objGet(join(mapsDirectory, name));
    try {
      return objectIdOf(fd.fd);
    } finally {
      fd.close();
    }
  });
  const program = join(directory, 'progs', 'prog');
  const programMaps = existsSync(program)
    ? bpftoolJson<{ map_ids: number[] }>('prog', 'show', 'pinned', program).map_ids
    : undefined;
  return { maps, programMaps };
}

/** A deterministic spread of moments over the whole load (start-up, map creation, pinning, after). */
function moments(count: number, seed: number, spanMs: number): number[] {
  let state = seed;
  return Array.from({ length: count }, () => {
    state = (state * 1103515245 + 12345) % 2 ** 31;
    return Math.floor((state / 2 ** 31) * spanMs);
  });
}

describe('cli: a --pin load interrupted by SIGINT/SIGTERM leaves all of the pin set or none of it', function () {
  this.timeout(120000);
  let object: string;
  const directory = `/sys/fs/bpf/bpfload-sig-${process.pid}`;

  before(function () {
    requireKernel(this);
    requireTool(this, 'clang');
    requireTool(this, 'bpftool');
    object = buildManyMapsObject(MAPS);
  });

  afterEach(() => rmSync(directory, { recursive: true, force: true }));
  after(() => {
    if (object) rmSync(dirname(object), { recursive: true, force: true });
  });

  it(`8 signals at moments spread over a fresh load of ${MAPS} maps: 0 partial pin sets`, async () => {
    const outcomes: string[] = [];
    for (const [i, delay] of moments(8, 9, 1800).entries()) {
      rmSync(directory, { recursive: true, force: true });
      const signal = i % 2 ? 'SIGTERM' : 'SIGINT';
      const run = startNode([CLI, object, '--pin', directory, '--json']);
      await sleep(delay);
      run.child.kill(signal);
      const { code, signal: died } = await run.exited;
      const { maps, programMaps } = pinSet(directory);
      const where = `${signal} at ${delay} ms (exit ${code ?? died}); stderr: ${run.stderr()}`;
      if (maps.length === 0) {
        // before Node ran any of the CLI, the default action ends it; after, the CLI says so and exits 128 + signal
        expect(programMaps, where).to.equal(undefined);
        if (died === null) expect(code, where).to.equal(signal === 'SIGINT' ? 130 : 143);
        outcomes.push('none');
      } else {
        expect(maps.length, where).to.equal(MAPS);
        expect(programMaps, where).to.not.equal(undefined);
        expect(maps, where).to.include.members(programMaps!);
        outcomes.push('all');
      }
    }
    expect(outcomes).to.have.length(8);
  });

  it('a program of its own (no signal handlers) calling loadBpfFile({ pinDir }): 8 signals, 0 partial pin sets, it still dies by the signal', async () => {
    const script = join(mkdtempSync(join(tmpdir(), 'bpfload-lib-')), 'load.mjs');
    writeFileSync(script, `import { loadBpfFile } from ${JSON.stringify(PUBLIC_API)};
console.log('started');
const object = await loadBpfFile(${JSON.stringify(object)}, { pinDir: ${JSON.stringify(directory)} });
object.close();
console.log('loaded');
`);
    const outcomes: string[] = [];
    try {
      for (const [i, delay] of moments(8, 31, 1500).entries()) {
        rmSync(directory, { recursive: true, force: true });
        const signal = i % 2 ? 'SIGTERM' : 'SIGINT';
        const run = startNode([script]);
        await run.waitFor(/started/);
        await sleep(delay);
        run.child.kill(signal);
        const { code, signal: died } = await run.exited;
        const { maps, programMaps } = pinSet(directory);
        const where = `${signal} at ${delay} ms (exit ${code ?? died}); stdout: ${run.stdout()}; stderr: ${run.stderr()}`;
        if (code === 0) {
          expect(run.stdout(), where).to.include('loaded');
        } else {
          // the default action, only after the load: the program had no handler of its own
          expect(died, where).to.equal(signal);
        }
        if (maps.length === 0) {
          expect(programMaps, where).to.equal(undefined);
          outcomes.push('none');
        } else {
          expect(maps.length, where).to.equal(MAPS);
          expect(maps, where).to.include.members(programMaps ?? [-1]);
          outcomes.push('all');
        }
      }
    } finally {
      rmSync(dirname(script), { recursive: true, force: true });
    }
    expect(outcomes).to.have.length(8);
  });

  it('SIGKILL cannot be caught: whatever it leaves, `unpin DIR` removes it all', async () => {
    const rounds: string[] = [];
    let killed = 0;
    for (const delay of moments(4, 5, 150)) {
      rmSync(directory, { recursive: true, force: true });
      const run = startNode([CLI, object, '--pin', directory, '--json']);
      try {
        // pinning has begun once DIR exists: a kill before that would leave nothing for unpin to remove
        await waitUntil(`${directory} to be made`, () => existsSync(directory) || run.child.exitCode !== null, 30_000, 2);
        await sleep(delay);
      } finally {
        run.child.kill('SIGKILL');
      }
      const { code, signal } = await run.exited;
      expect(existsSync(directory), `${directory} after the load ended (exit ${code ?? signal}): ${run.stderr()}`).to.equal(true);
      const pinned = existsSync(join(directory, 'maps')) ? readdirSync(join(directory, 'maps')).length : 0;
      const where = `SIGKILL ${delay} ms after ${directory} appeared (exit ${code ?? signal}, ${pinned} of ${MAPS} maps pinned)`;
      rounds.push(where);
      if (signal === 'SIGKILL') killed++;
      // not killed: it had finished before the signal, and then it must have succeeded
      else expect(code, `${where}; stderr: ${run.stderr()}`).to.equal(0);
      const unpin = startNode([CLI, 'unpin', directory]);
      expect((await unpin.exited).code, `${where}: ${unpin.stderr()}`).to.equal(0);
      expect(existsSync(directory), `${where}, then unpin: ${unpin.stdout()}`).to.equal(false);
    }
    // pinning and exiting take some 200 ms after DIR appears: kills this soon land while the CLI still runs
    expect(killed, `loads that SIGKILL ended, of: ${rounds.join('; ')}`).to.be.at.least(1);
  });

  it('8 signals over a --force reload: the pins are all the old set or all the new one, and the program uses pinned maps', async () => {
    const first = startNode([CLI, object, '--pin', directory, '--json']);
    expect((await first.exited).code, first.stderr()).to.equal(0);
    let current = pinSet(directory);
    for (const [i, delay] of moments(8, 77, 1600).entries()) {
      const signal = i % 2 ? 'SIGINT' : 'SIGTERM';
      const run = startNode([CLI, object, '--pin', directory, '--force', '--json']);
      await sleep(delay);
      run.child.kill(signal);
      const { code, signal: died } = await run.exited;
      const where = `${signal} at ${delay} ms (exit ${code ?? died}); stderr: ${run.stderr()}`;
      const now = pinSet(directory);
      expect(now.maps.length, where).to.equal(MAPS);
      const kept = now.maps.filter((id) => current.maps.includes(id)).length;
      expect([0, MAPS], `${where}: ${kept} of ${MAPS} pins kept`).to.include(kept);
      expect(now.maps, where).to.include.members(now.programMaps ?? [-1]);
      current = now;
    }
  });
});
