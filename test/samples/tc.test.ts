import { expect } from 'chai';
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { randomInt } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { exportMaps, loadBpfFile } from '../../loader/index.js';
import { freshPinRoot, removePinRoot } from '../support/bpffs.js';
import { fixturePath } from '../support/fixtures.js';
import { requireKernel, requireRoot } from '../support/kernel.js';
import { networkNamespaces } from '../support/net.js';
import { startNode, waitUntil } from '../support/processes.js';
import { samplePath as sample } from '../support/samples.js';


describe('samples: tc, for a second each', function () {
  this.timeout(30000);
  before(function () {
    requireKernel(this);
    requireRoot(this);
  });

  it('tc_bytes --demo --duration 1: bytes of UDP at ingress and ICMP at egress of its veth; namespace and veth removed', () => {
    const result = spawnSync(process.execPath, [sample('tc_bytes'), '--demo', '--duration', '1'], { encoding: 'utf8', timeout: 20000 });
    expect(result.status, result.stderr).to.equal(0);
    expect(result.stdout).to.match(/^tc_bytes: counting bytes per IP protocol on tcb\d+: tcb\d+ ingress \((tcx|clsact [^)]+)\), tcb\d+ egress/m);
    // the namespace sends UDP; the host answers each datagram to a closed port with ICMP
    expect(result.stdout).to.match(/^ingress proto  17: +\d+ bytes\/s$/m);
    expect(result.stdout).to.match(/^egress  proto   1: +\d+ bytes\/s$/m);
    expect(networkNamespaces()).to.not.include(`tc-bytes-${result.pid}`);
    expect(spawnSync('ip', ['-o', 'link', 'show'], { encoding: 'utf8' }).stdout).to.not.include(`tcb${result.pid! % 100000}:`);
  });

  it('map_agent UDS --duration 1: receives exported maps and prints them with their tc ids', async () => {
    const root = freshPinRoot('mapagent');
    const path = join(tmpdir(), `bpf-load-map-agent-${process.pid}-${randomInt(1e9)}.sock`);
    const object = await loadBpfFile(fixturePath('tc_sections_kern.o'), { convention: 'tc', bpffs: root });
    try {
      const child = startNode([sample('map_agent'), path, '--timeout', '10000', '--duration', '1']);
      try {
        await waitUntil(`map_agent to bind ${path}`, () => existsSync(path), 10_000);
        exportMaps(object, path);
      } catch (error) {
        child.child.kill('SIGKILL');
        throw error;
      }
      expect((await child.exited).code, child.stderr()).to.equal(0);
      expect(child.stdout()).to.include(`map_agent: 7 map(s) of '${object.file}'`);
      expect(child.stdout()).to.match(new RegExp(`^BPF_MAP1 'tc_jmp_dec' \\(prog_array, id ${object.map('tc_jmp_dec').id}\\): 1 non-zero entries$`, 'm'));
      expect(child.stdout()).to.match(/^BPF_MAP2748 'tc_jmp_hex'/m);
    } finally {
      object.close();
      removePinRoot(root);
    }
  });
});
