import { expect } from 'chai';
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { EXIT_KERNEL, EXIT_OK, EXIT_USAGE, main } from '../../loader/cli/main.js';
import { loadBpfFile } from '../../loader/index.js';
import { captureIo } from '../support/captureIo.js';
import { uniqueName } from '../support/unique.js';
import { fixturePath, repoRoot } from '../support/fixtures.js';
import { requireKernel, requireRoot, requireTracefs } from '../support/kernel.js';
import { runNodeUnprivileged } from '../support/processes.js';
import { packagedCopy, type PackagedCopy } from './packagedCopy.js';

/** `node args…` as uid/gid 65534 (nobody): no capabilities, no DAC override. */
function asNobody(args: string[]): { status: number | null; stdout: string; stderr: string } {
  return runNodeUnprivileged('nobody', args, { cwd: '/' });
}

describe('cli and library: the messages of what went wrong', function () {
  this.timeout(60_000);

  it('options that mean nothing alone are refused (exit 2), not silently ignored', async () => {
    for (const [args, message] of [
      [['--duration', '1'], /--duration needs --attach/],
      [['--bpffs', '/sys/fs/bpf'], /--bpffs needs --convention tc/],
      [['--pin', ''], /--pin needs a directory .* not an empty string/],
      [['--programs', ''], /--programs needs program names/],
      [['--programs', ','], /--programs needs program names/],
      [['--dry-run', '--attach'], /--dry-run loads nothing/],
      [['--convention', 'bogus'], /Invalid values/],
      [['--tc-mode', 'netlink'], /--tc-mode needs --tc/],
      [['--force'], /--force needs --pin DIR or --convention tc/],
      [['--reuse-pinned'], /Missing dependent arguments: reuse-pinned -> pin/],
      [['--type', 'bogus', '--dry-run'], /--type 'bogus' is no program type/],
      [['--attach', '--duration', '3000000'], /--duration must be a number of seconds from 0 to 2147483/],
      [['--attach', '--duration='], /Invalid value for --duration: '' is not a number/],
      [['--attach', '--duration', '5x'], /Invalid value for --duration: not a number/],
    ] as const) {
      const io = captureIo();
      expect(await main([fixturePath('tracing_kern.o'), ...args], io), args.join(' ')).to.equal(EXIT_USAGE);
      expect(io.stderr, args.join(' ')).to.match(message);
      expect(io.stderr.trim().split('\n')).to.have.length(1);
    }
  });

  it('ELOOP when reading the object is named and explained', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'bpfload-loop-'));
    try {
      symlinkSync(join(dir, 'b'), join(dir, 'a'));
      symlinkSync(join(dir, 'a'), join(dir, 'b'));
      const io = captureIo();
      expect(await main([join(dir, 'a')], io)).to.equal(EXIT_USAGE);
      expect(io.stderr).to.match(/cannot read object: ELOOP \(too many levels of symbolic links/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  describe('pin directories', () => {
    before(function () {
      requireKernel(this);
    });

    it('--pin FILE says it is a file; --pin on an existing folder off bpffs does not advise mounting over it', async () => {
      const dir = mkdtempSync(join(tmpdir(), 'bpfload-pinfile-'));
      try {
        const file = join(dir, 'file');
        writeFileSync(file, 'x');
        const io = captureIo();
        expect(await main([fixturePath('socket_count_kern.o'), '--pin', file], io)).to.equal(EXIT_USAGE);
        expect(io.stderr).to.match(/pin directory '.*\/file' is a file, not a directory/);
        expect(io.stderr).to.not.match(/mount/);
        const here = captureIo();
        expect(await main([fixturePath('socket_count_kern.o'), '--pin', repoRoot], here)).to.equal(EXIT_USAGE);
        expect(here.stderr).to.match(/is not on a bpf filesystem/);
        expect(here.stderr).to.not.match(/mount -t bpf bpf/);
        expect(here.stderr).to.match(/would hide what is in it/);
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    });

    it('--reuse-pinned --force over a map that differs warns that its entries are lost', async () => {
      const dir = `/sys/fs/bpf/${uniqueName('bpfload-reuse')}`;
      try {
        (await loadBpfFile(fixturePath('socket_count_kern.o'), { pinDir: dir })).close();
        const warnings: string[] = [];
        const object = await loadBpfFile(fixturePath('socket_count_kern.o'), {
          pinDir: dir, reusePinned: true, force: true, onWarning: (w) => warnings.push(w),
          fixupMap: (map) => void (map.def.max_entries += 1),
        });
        object.close();
        expect(warnings.join('\n')).to.match(/the map pinned at .* differs \(max_entries .*\): replacing it with a new, empty map; its entries are lost/);
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    });
  });

  // run from a copy of the package in /tmp: the clone may be where nobody may read (a 0700 home)
  describe('as user nobody', () => {
    const dir = `/sys/fs/bpf/${uniqueName('bpfload-private')}`;
    let copy: PackagedCopy | undefined;
    let CLI = '';
    let PUBLIC_API = '';

    before(async function () {
      requireKernel(this);
      requireRoot(this);
      (await loadBpfFile(fixturePath('socket_count_kern.o'), { pinDir: dir })).close();
      execFileSync('chmod', ['0700', dir]);
      copy = packagedCopy();
      CLI = copy.cli;
      PUBLIC_API = copy.api;
    });

    after(() => {
      rmSync(dir, { recursive: true, force: true });
      copy?.remove();
    });

    it('the copy is what nobody runs: --version works as nobody from it', () => {
      const run = asNobody([CLI, '--version']);
      expect(run.status, run.stderr).to.equal(EXIT_OK);
      expect(run.stdout.trim()).to.match(/^\d+\.\d+\.\d+/);
    });

    it('dump of a pin in a folder nobody may search says EACCES, not "nothing is pinned" (exit 1)', () => {
      const run = asNobody([CLI, 'dump', join(dir, 'maps', 'counts')]);
      expect(run.status, run.stderr).to.equal(EXIT_KERNEL);
      expect(run.stderr).to.match(/cannot look at '.*': EACCES .*may not search/);
      expect(run.stderr).to.not.match(/nothing is pinned/);
    });

    it('unpin of such a folder fails with EACCES instead of removing nothing and exiting 0', () => {
      const run = asNobody([CLI, 'unpin', dir]);
      expect(run.status, run.stderr + run.stdout).to.equal(EXIT_KERNEL);
      expect(run.stderr).to.match(/EACCES/);
      expect(spawnSync('ls', [join(dir, 'maps')], { encoding: 'utf8' }).stdout).to.include('counts');
    });

    it('tracefs mounted with mode 0700 is reported as unreadable, not as "not mounted"', function () {
      requireTracefs(this);
      const script = `const { attachTracepoint } = await import(${JSON.stringify(PUBLIC_API)});
try { attachTracepoint(0, 'syscalls', 'sys_enter_getuid'); } catch (e) { console.log(e.code, e.message); }`;
      const run = asNobody(['--input-type=module', '-e', script]);
      expect(run.stdout).to.match(/tracefs is mounted at \/sys\/kernel\/(debug\/)?tracing, but this user may not read it \(EACCES\)/);
      expect(run.stdout).to.not.match(/not mounted/);
    });
  });

  it('exit statuses follow the categories: 0 loaded, 2 input', async () => {
    const io = captureIo();
    expect(await main(['--dry-run', fixturePath('tracing_kern.o')], io)).to.equal(EXIT_OK);
    const input = captureIo();
    expect(await main(['--dry-run', fixturePath('no_such_kern.o')], input), input.stderr).to.equal(EXIT_USAGE);
    expect(input.stderr).to.match(/no_such_kern\.o: cannot read object: ENOENT/);
  });
});
