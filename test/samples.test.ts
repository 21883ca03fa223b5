import { expect } from 'chai';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { tracefsRoot } from '../index.js';
import { requireKernel } from './support/kernel.js';

/** The compiled sample next to this compiled test (dist/samples or .build-*\/samples). */
function sample(name: string): string {
  return fileURLToPath(new URL(`../samples/${name}.js`, import.meta.url));
}

function runSample(name: string, ...args: string[]): { status: number | null; stdout: string; stderr: string; pid: number } {
  const result = spawnSync(process.execPath, [sample(name), ...args], { encoding: 'utf8', timeout: 15000 });
  return { status: result.status, stdout: result.stdout, stderr: result.stderr, pid: result.pid };
}

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
    const namespaces = spawnSync('ip', ['netns', 'list'], { encoding: 'utf8' }).stdout;
    expect(namespaces.split('\n').map((line) => line.split(' ')[0])).to.not.include(`xdp1-demo-${pid}`);
  });

  it('syscount --duration 1: lists processes by system calls', function () {
    if (!tracefsRoot()) spawnSync('mount', ['-t', 'tracefs', 'nodev', '/sys/kernel/tracing']);
    if (!tracefsRoot()) this.skip();
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
