import { expect } from 'chai';
import { spawn } from 'node:child_process';
import { isBpfLoadError, loadBpfFile, type LoadError } from '../../loader/index.js';
import { freshPinRoot, listTree, removePinRoot } from '../support/bpffs.js';
import { CLI } from '../support/processes.js';
import { fixturePath } from '../support/fixtures.js';
import { requireKernel } from '../support/kernel.js';


interface Outcome {
  status: number | null;
  stderr: string;
  mapIds: Record<string, number>;
}

/** One `load-kern-object --convention tc --json` process; resolves when it exits. */
function loadInProcess(root: string): Promise<Outcome> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [CLI, '--convention', 'tc', '--bpffs', root, '--json', fixturePath('tc_sections_kern.o')]);
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('exit', (status) => {
      let mapIds: Record<string, number> = {};
      try {
        const json = JSON.parse(stdout) as { maps: { name: string; id: number }[] };
        mapIds = Object.fromEntries(json.maps.map((m) => [m.name, m.id]));
      } catch {
        // a failed load prints no JSON: the status and stderr say why
      }
      resolve({ status, stderr, mapIds });
    });
  });
}

describe('kernel: concurrent tc loads of one object', function () {
  this.timeout(120000);
  before(function () {
    requireKernel(this);
  });

  it('two loads at once, 20 times: both succeed, and the second never finds the pins "already pinned"', async () => {
    const pinned = ['tc_jmp_dec', 'tc_proto_bytes', 'tc_proto_packets', 'tc_tail_hits'];
    for (let round = 0; round < 20; round++) {
      const root = freshPinRoot(`tcconc${round}`);
      try {
        const [a, b] = await Promise.all([loadInProcess(root), loadInProcess(root)]);
        expect(a.status, `round ${round}: ${a.stderr}`).to.equal(0);
        expect(b.status, `round ${round}: ${b.stderr}`).to.equal(0);
        // while both ran, both used the one global map pinned for each (and the pin outlives them)
        for (const name of pinned) expect(a.mapIds[name], `round ${round}: ${name}`).to.equal(b.mapIds[name]);
        expect(listTree(root).filter((p) => p.startsWith('tc/globals/') && p !== 'tc/globals/')).to.deep.equal(pinned.map((n) => `tc/globals/${n}`));
      } finally {
        removePinRoot(root);
      }
    }
  });

  it('a definition that differs from the shared pin is refused, and the hint sends no one to unpin or replace it', async () => {
    const root = freshPinRoot('tcshared');
    try {
      const first = await loadBpfFile(fixturePath('tc_sections_kern.o'), { convention: 'tc', bpffs: root });
      try {
        const error = await loadBpfFile(fixturePath('tc_sections_kern.o'), {
          convention: 'tc', bpffs: root, fixupMap: (map) => { if (map.name === 'tc_tail_hits') map.def.max_entries = 3; },
        }).then((o) => { o.close(); return undefined; }, (e: unknown) => e as LoadError);
        expect(isBpfLoadError(error)).to.equal(true);
        expect(error!.message).to.match(/map 'tc_tail_hits' \(#2\): the pinned map differs from the object's definition of 'tc_tail_hits': max_entries 3 \(object\) != 2/);
        expect(error!.hint).to.match(/shared with every other load/);
        expect(error!.message).to.not.match(/unpin|--force/);
      } finally {
        first.close();
      }
    } finally {
      removePinRoot(root);
    }
  });
});
