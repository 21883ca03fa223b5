import { expect } from 'chai';
import { spawn, spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { randomInt } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { exportMaps, loadBpfFile } from '../../loader/index.js';
import { freshPinRoot, removePinRoot } from '../support/bpffs.js';
import { fixturePath } from '../support/fixtures.js';
import { requireKernel, requireRoot } from '../support/kernel.js';
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
    const namespaces = spawnSync('ip', ['netns', 'list'], { encoding: 'utf8' }).stdout;
    expect(namespaces.split('\n').map((line) => line.split(' ')[0])).to.not.include(`tc-bytes-${result.pid}`);
    expect(spawnSync('ip', ['-o', 'link', 'show'], { encoding: 'utf8' }).stdout).to.not.include(`tcb${result.pid! % 100000}:`);
  });

  it('map_agent UDS --duration 1: receives exported maps and prints them with their tc ids', async () => {
    const root = freshPinRoot('mapagent');
    const path = join(tmpdir(), `bpf-load-map-agent-${process.pid}-${randomInt(1e9)}.sock`);
    const object = await loadBpfFile(fixturePath('tc_sections_kern.o'), { convention: 'tc', bpffs: root });
    try {
      const child = spawn(process.execPath, [sample('map_agent'), path, '--timeout', '10000', '--duration', '1']);
      let stdout = '';
      let stderr = '';
      child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
      child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
      const exited = new Promise<number | null>((resolve) => child.on('exit', resolve));
      for (let i = 0; i < 500 && !existsSync(path); i++) await new Promise((r) => setTimeout(r, 20));
      exportMaps(object, path);
      expect(await exited, stderr).to.equal(0);
      expect(stdout).to.include(`map_agent: 7 map(s) of '${object.file}'`);
      expect(stdout).to.match(new RegExp(`^BPF_MAP1 'tc_jmp_dec' \\(prog_array, id ${object.map('tc_jmp_dec').id}\\): 1 non-zero entries$`, 'm'));
      expect(stdout).to.match(/^BPF_MAP2748 'tc_jmp_hex'/m);
    } finally {
      object.close();
      removePinRoot(root);
    }
  });
});
