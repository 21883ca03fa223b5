import { expect } from 'chai';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { cgroup2Mounts } from '../../loader/attach/cgroupMount.js';
import { repoRoot } from '../support/fixtures.js';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';

function testSources(directory: string): string[] {
  const found: string[] = [];
  for (const entry of readdirSync(join(repoRoot, directory), { withFileTypes: true })) {
    const path = join(directory, entry.name);
    if (entry.isDirectory()) found.push(...testSources(path));
    else if (entry.name.endsWith('.ts')) found.push(path);
  }
  return found;
}

describe('tests cannot skip silently', () => {
  it('no test skips except through requireFeature() (test/support/kernel.ts), which fails under BPF_LOAD_REQUIRE_KERNEL=1', () => {
    const offenders: string[] = [];
    for (const file of testSources('test')) {
      if (file === join('test', 'support', 'kernel.ts')) continue;
      readFileSync(join(repoRoot, file), 'utf8').split('\n').forEach((line, i) => {
        if (/\.skip\(|\bit\.skip\b|\bdescribe\.skip\b|\bxit\(|\bxdescribe\(/.test(line)) offenders.push(`${file}:${i + 1}: ${line.trim()}`);
      });
    }
    expect(offenders).to.deep.equal([]);
  });

  it('cgroup2 is found wherever /proc/self/mountinfo says it is: pure cgroup2 (Debian 12) and hybrid layouts', () => {
    const directory = mkdtempSync(join(tmpdir(), 'bpfload-mountinfo-'));
    try {
      const pure = join(directory, 'pure');
      writeFileSync(pure, [
        '22 1 0:21 / /sys rw,nosuid,nodev,noexec,relatime shared:7 - sysfs sysfs rw',
        '26 22 0:23 / /sys/fs/cgroup rw,nosuid,nodev,noexec,relatime shared:9 - cgroup2 cgroup2 rw,nsdelegate,memory_recursiveprot',
        '',
      ].join('\n'));
      const hybrid = join(directory, 'hybrid');
      writeFileSync(hybrid, [
        '25 22 0:22 / /sys/fs/cgroup ro,nosuid,nodev,noexec shared:8 - tmpfs tmpfs ro,mode=755',
        '26 25 0:23 / /sys/fs/cgroup/unified rw,nosuid,nodev,noexec,relatime shared:9 - cgroup2 cgroup2 rw,nsdelegate',
        '27 25 0:24 / /sys/fs/cgroup/systemd rw,nosuid,nodev,noexec,relatime shared:10 - cgroup cgroup rw,xattr,name=systemd',
        '90 1 0:40 / /tmp/my\\040cgroup rw,relatime - cgroup2 none rw',
      ].join('\n'));
      const none = join(directory, 'none');
      writeFileSync(none, '27 25 0:24 / /sys/fs/cgroup/cpu rw - cgroup cgroup rw,cpu\n');
      expect(cgroup2Mounts(pure)).to.deep.equal(['/sys/fs/cgroup']);
      expect(cgroup2Mounts(hybrid)).to.deep.equal(['/sys/fs/cgroup/unified', '/tmp/my cgroup']);
      expect(cgroup2Mounts(none)).to.deep.equal([]);
    } finally {
      rmSync(directory, { recursive: true, force: true });
    }
  });
});
