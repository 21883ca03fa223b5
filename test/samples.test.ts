import { expect } from 'chai';
import { spawn, spawnSync } from 'node:child_process';
import { requireKernel, requireTracefs } from './support/kernel.js';
import { runSample, samplePath as sample } from './support/samples.js';
import { networkNamespaces } from './support/net.js';
import { sleep } from './support/processes.js';



describe('samples run as documented, for a second each', function () {
  this.timeout(20000);
  before(function () {
    requireKernel(this);
  });

  it('sockex1 --duration 1: counts UDP (and ICMP) bytes leaving lo', () => {
    const { status, stdout, stderr } = runSample('sockex1', '--duration', '1');
    expect(status, stderr).to.equal(0);
    const line = stdout.split('\n').find((l) => l.startsWith('TCP '));
    expect(line, stdout).to.match(/^TCP \d+ UDP \d+ ICMP \d+ bytes$/);
    // the sample sent 64-byte datagrams: at least one was counted with its headers (14 + 20 + 8)
    expect(Number(/UDP (\d+)/.exec(line!)![1])).to.be.at.least(106);
  });

  it('xdp1 --demo --duration 1: counts the UDP packets sent through its veth, and removes the namespace', () => {
    const { status, stdout, stderr, pid } = runSample('xdp1', '--demo', '--duration', '1');
    expect(status, stderr).to.equal(0);
    expect(stdout).to.match(/proto 17: +\d+ pkt\/s/);
    // only this run's namespace: another run may be using its own at the same time
    expect(networkNamespaces()).to.not.include(`xdp1-demo-${pid}`);
  });

  it('xdp1 --demo interrupted at any point (SIGINT, SIGTERM) leaves no namespace, veth or XDP program behind', async () => {
    // from before the sample could catch the signal, through the setup, to while it counts
    const delays = [40, 60, 80, 100, 120, 140, 160, 180, 200, 250, 400, 1200];
    for (const [i, delay] of delays.entries()) {
      const signal = i % 2 ? 'SIGTERM' : 'SIGINT';
      const child = spawn(process.execPath, [sample('xdp1'), '--demo'], { stdio: 'ignore' });
      const exited = new Promise((resolve) => child.once('exit', resolve));
      await sleep(delay);
      child.kill(signal);
      await exited;
      const where = `${signal} after ${delay} ms`;
      expect(networkNamespaces(), where).to.not.include(`xdp1-demo-${child.pid}`);
      const links = spawnSync('ip', ['-o', 'link', 'show'], { encoding: 'utf8' }).stdout;
      expect(links, where).to.not.include(`xdp1d${child.pid! % 100000}`);
    }
  });

  it('syscount --duration 1: lists processes by system calls', function () {
    requireTracefs(this);
    const { status, stdout, stderr } = runSample('syscount', '--duration', '1', '--top', '5');
    expect(status, stderr).to.equal(0);
    expect(stdout).to.match(/PID +COMM +SYSCALLS\/s/);
    expect(stdout).to.match(/^ +\d+ +\S.* +\d+$/m);
  });

  it('a sample given a bad option says so and exits 2', () => {
    const { status, stderr } = runSample('sockex1', '--duration', 'soon');
    expect(status).to.equal(2);
    expect(stderr).to.match(/--duration must be a number of seconds/);
  });
});
