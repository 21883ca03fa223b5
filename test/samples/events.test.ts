import { expect } from 'chai';
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { requireKernel, requireTool, requireTracefs } from '../support/kernel.js';
import { networkNamespaces } from '../support/net.js';
import { startNode } from '../support/processes.js';
import { runSample as run, samplePath as sample } from '../support/samples.js';



describe('samples that read events, for a second each', function () {
  this.timeout(20000);
  before(function () {
    requireKernel(this);
  });

  it('trace_output --duration 1: prints pid and command of each execve() and the events per second', async function () {
    requireTracefs(this);
    const child = startNode([sample('trace_output'), '--duration', '1']);
    await child.waitFor(/every execve\(\)/);
    const pids = [0, 1, 2].map(() => spawnSync('/bin/true').pid);
    expect((await child.exited).code, child.stderr()).to.equal(0);
    // each /bin/true called execve() as itself, still named after the test's process
    for (const pid of pids) expect(child.stdout()).to.match(new RegExp(`^pid ${pid} \\S+$`, 'm'));
    expect(child.stdout()).to.match(/^[1-9]\d* events\/s$/m);
  });

  it('xdp_sample_pkts --demo --duration 1: samples the UDP packets sent through its veth into a pcap tcpdump reads', function () {
    requireTool(this, 'tcpdump');
    const dir = mkdtempSync(join(tmpdir(), 'xdp-sample-pkts-'));
    try {
      const pcap = join(dir, 'sampled.pcap');
      const { status, stdout, stderr, pid } = run('xdp_sample_pkts', '--demo', '--duration', '1', '--pcap', pcap);
      expect(status, stderr).to.equal(0);
      expect(stdout).to.match(/^packet: 44 bytes, ethernet [0-9a-f]{24}0800$/m);
      const decoded = execFileSync('tcpdump', ['-nr', pcap], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] });
      // the demo sends 3 datagrams at the start and 3 a second later, from 10.201.1.2 to 10.201.1.1 port 9
      const udp = decoded.split('\n').filter((line) => /IP 10\.201\.1\.2\.\d+ > 10\.201\.1\.1\.9: UDP, length 2$/.test(line));
      expect(udp.length, decoded).to.be.at.least(3);
      expect(networkNamespaces()).to.not.include(`xdpsp-demo-${pid}`);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('sampleip --duration 1: samples instruction pointers on a timer and prints the top addresses', () => {
    const { status, stdout, stderr } = run('sampleip', '--duration', '1', '--frequency', '200', '--top', '3');
    expect(status, stderr).to.equal(0);
    // what is certain: samples arrive and the table is well formed; how many, and how many distinct addresses an idle
    // (or a throttled) CPU lands on, is not
    const summary = /^(\d+) samples, (\d+) addresses; the top (\d+):$/m.exec(stdout);
    expect(summary, stdout).to.not.equal(null);
    const [total, addresses, shown] = summary!.slice(1).map(Number) as [number, number, number];
    expect(total, stdout).to.be.at.least(1);
    expect(addresses).to.be.within(1, total);
    expect(shown).to.equal(Math.min(3, addresses));
    expect(stdout).to.match(/^ADDR +COUNT +KSYM$/m);
    const rows = stdout.split('\n').filter((line) => line.startsWith('0x'));
    expect(rows, stdout).to.have.lengthOf(shown);
    const counts = rows.map((row) => {
      const match = /^0x[0-9a-f]{16} +(\d+) +\S/.exec(row);
      expect(match, row).to.not.equal(null);
      return Number(match![1]);
    });
    expect(counts, 'the top addresses, most samples first').to.deep.equal([...counts].sort((a, b) => b - a));
    expect(counts.reduce((sum, count) => sum + count, 0)).to.be.within(1, total);
  });
});
