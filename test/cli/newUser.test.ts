import { expect } from 'chai';
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { existsSync, readdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { freshPinRoot, removePinRoot } from '../support/bpffs.js';
import { fixturePath } from '../support/fixtures.js';
import { requireKernel, requireRoot, requireTool, requireTracefs } from '../support/kernel.js';
import { CLI, startNode, waitUntil } from '../support/processes.js';
import { uniqueName } from '../support/unique.js';

/**
 * What a new user ran into, each run as a real process the way they ran it:
 * through a pipe, under `ip netns exec`, a second time, with Ctrl-C.
 */

interface Run {
  status: number | null;
  stdout: string;
  stderr: string;
}

function cli(...args: string[]): Run {
  const run = spawnSync(process.execPath, [CLI, ...args], { encoding: 'utf8', timeout: 60_000 });
  return { status: run.status, stdout: run.stdout, stderr: run.stderr };
}

/** `ip netns exec NS node CLI args…`: a private mount namespace with /sys mounted afresh (no bpffs, no tracefs). */
function inNetns(netns: string, ...args: string[]): Run {
  const run = spawnSync('ip', ['netns', 'exec', netns, process.execPath, CLI, ...args], { encoding: 'utf8', timeout: 60_000 });
  return { status: run.status, stdout: run.stdout, stderr: run.stderr };
}

describe('cli: what a new user tripped on', function () {
  this.timeout(60_000);

  describe('arguments', () => {
    it('--programs a b FILE does not take FILE for a program: a usage error that says how to list programs', () => {
      const run = cli('--dry-run', '--programs', 'on_getuid', 'on_sys_enter', fixturePath('tracing_kern.o'));
      expect(run.status).to.equal(2);
      expect(run.stderr).to.match(/^load-kern-object: one object FILE at a time; also got '.*tracing_kern\.o'; --programs takes a comma-separated list \(--programs a,b\)/);
      expect(run.stderr.trim().split('\n')).to.have.length(1);
    });

    it('--programs a,b FILE (and --programs a --programs b) loads those programs', function () {
      requireKernel(this);
      for (const args of [['--programs', 'on_getuid,on_sys_enter'], ['--programs', 'on_getuid', '--programs', 'on_sys_enter']]) {
        const run = cli('--json', ...args, fixturePath('tracing_kern.o'));
        expect(run.status, run.stderr).to.equal(0);
        expect((JSON.parse(run.stdout) as { programs: { name: string }[] }).programs.map((p) => p.name)).to.deep.equal(['on_getuid', 'on_sys_enter']);
      }
      const one = cli('--json', '--programs', 'on_sys_enter', fixturePath('tracing_kern.o'));
      expect((JSON.parse(one.stdout) as { programs: { name: string }[] }).programs.map((p) => p.name)).to.deep.equal(['on_sys_enter']);
    });

    it('two object files: one clear line, exit 2', () => {
      const run = cli(fixturePath('tracing_kern.o'), fixturePath('socket_count_kern.o'));
      expect(run.status).to.equal(2);
      expect(run.stderr).to.match(/^load-kern-object: one object FILE at a time; also got '.*socket_count_kern\.o' \(see load-kern-object --help\)\n$/);
    });

    it('completion prints a yargs completion script for bash and zsh, and the script\'s query lists the commands', () => {
      const bash = spawnSync(process.execPath, [CLI, 'completion'], { encoding: 'utf8', env: { ...process.env, SHELL: '/bin/bash' } });
      expect(bash.status, bash.stderr).to.equal(0);
      expect(bash.stdout).to.include('###-begin-load-kern-object-completions-###');
      expect(bash.stdout).to.include('complete -o bashdefault -o default -F _load-kern-object_yargs_completions load-kern-object');
      const zsh = spawnSync(process.execPath, [CLI, 'completion'], { encoding: 'utf8', env: { ...process.env, SHELL: '/usr/bin/zsh' } });
      expect(zsh.stdout).to.include('compdef _load-kern-object_yargs_completions load-kern-object');
      const words = cli('--get-yargs-completions', 'load-kern-object', '');
      expect(words.stdout.trim().split('\n')).to.include.members(['dump', 'unpin', 'events', 'completion']);
      expect(words.stdout).to.not.include('$0');
      const options = cli('--get-yargs-completions', 'load-kern-object', 'dump', '--');
      expect(options.stdout.trim().split('\n')).to.include.members(['--key', '--value', '--json']);
    });
  });

  describe('with the kernel', () => {
    let root: string | undefined;
    before(function () {
      requireKernel(this);
      requireRoot(this);
    });
    beforeEach(() => {
      root = freshPinRoot('newuser');
    });
    afterEach(() => removePinRoot(root));

    it('exit statuses follow docs/errors.md: a missing file and a missing --tc interface are both 2, before anything is printed', () => {
      const file = cli(fixturePath('no_such_kern.o'));
      expect(file.status).to.equal(2);
      const missing = uniqueName('nodev');
      const dev = cli(fixturePath('tc_maps_kern.o'), '--convention', 'tc', '--bpffs', root!, '--tc', `${missing}:ingress`);
      expect(dev.status, dev.stderr).to.equal(2);
      expect(dev.stderr).to.match(new RegExp(`--tc ${missing}:ingress: no network interface named '${missing}' here`));
      expect(dev.stdout).to.equal('');
      // nothing was made: no pin of the tc convention either
      expect(readdirSync(root!)).to.deep.equal([]);
    });

    it('--programs NAME that no program has: refused in the words typed, before anything is loaded or printed', () => {
      for (const args of [[fixturePath('tracing_kern.o')], ['events', fixturePath('modern/typed_values.bpf.o'), '--map', 'ring']]) {
        const run = cli(...args, '--programs', 'no_such_prog');
        expect(run.status, run.stderr).to.equal(2);
        expect(run.stderr).to.match(/: --programs names 'no_such_prog', which is no program of this object \(programs: /);
        expect(run.stdout).to.equal('');
      }
    });

    it('--tc PROGRAM and --export are checked before the load: a wrong name or a missing socket prints no table and pins nothing', () => {
      const wrong = cli(fixturePath('tc_maps_kern.o'), '--convention', 'tc', '--bpffs', root!, '--tc', 'lo:ingress:no_such_prog');
      expect(wrong.status, wrong.stderr).to.equal(2);
      expect(wrong.stderr).to.match(/--tc lo:ingress:no_such_prog: no program of that function or section name \(programs: cls_count\)/);
      expect(wrong.stdout).to.equal('');
      const socket = join('/tmp', `${uniqueName('no-receiver')}.sock`);
      const exported = cli(fixturePath('tc_maps_kern.o'), '--convention', 'tc', '--bpffs', root!, '--export', socket);
      expect(exported.status, exported.stderr).to.equal(2);
      expect(exported.stderr).to.match(/export the maps to '.*': ENOENT \(start the receiver first/);
      expect(exported.stdout).to.equal('');
      expect(readdirSync(root!)).to.deep.equal([]);
    });

    it('--log-level 1 alone prints each program\'s verifier log on stderr; --json --log-level 2 carries it in the JSON', () => {
      const text = cli(fixturePath('socket_count_kern.o'), '--log-level', '1');
      expect(text.status, text.stderr).to.equal(0);
      expect(text.stderr).to.match(/-- verifier log of count_packets --\n[\s\S]*processed \d+ insns/);
      const json = cli(fixturePath('socket_count_kern.o'), '--log-level', '2', '--json');
      expect(json.status, json.stderr).to.equal(0);
      const programs = (JSON.parse(json.stdout) as { programs: { name: string; verifier_log: string }[] }).programs;
      expect(programs[0]!.verifier_log).to.match(/processed \d+ insns/);
      expect(json.stderr).to.not.include('verifier log');
    });

    it('tc-convention pins are said to stay after exit, with the unpin that removes them; unpin of tc\'s shared directory is refused clearly', () => {
      const load = cli(fixturePath('tc_maps_kern.o'), '--convention', 'tc', '--bpffs', root!);
      expect(load.status, load.stderr).to.equal(0);
      const globals = join(root!, 'tc', 'globals');
      const note = /^pinned by the tc convention: (.*): they stay after this command exits \(other tc objects share them by name\); remove them with: load-kern-object unpin (.*)$/m.exec(load.stdout);
      expect(note, load.stdout).to.not.equal(null);
      const pins = note![2]!.split(' ');
      expect(pins).to.include(join(globals, 'tc_global_counts'));
      for (const pin of pins) expect(existsSync(pin), pin).to.equal(true);
      // the directory tc shares between objects: not what --pin made, so left alone with a clear word
      const refused = cli('unpin', globals);
      expect(refused.status).to.equal(2);
      expect(refused.stderr).to.match(/is not a --pin directory \(it has no maps\/ or progs\/\): it holds \d+ pin\(s\) or directories, left alone \(name the pins to remove, e\.g\. load-kern-object unpin /);
      expect(refused.stderr).to.not.match(/not empty/);
      const removed = cli('unpin', ...pins);
      expect(removed.status, removed.stderr).to.equal(0);
      expect(removed.stdout.trim().split('\n')).to.deep.equal(pins.map((pin) => `unpinned ${pin}`));
      for (const pin of pins) expect(existsSync(pin), pin).to.equal(false);
    });

    it('--pin DIR --reuse-pinned on a second run: refused with a message that names --force, and the first run\'s pins stay whole', () => {
      const dir = join(root!, 'app');
      expect(cli(fixturePath('socket_count_kern.o'), '--pin', dir).status).to.equal(0);
      const again = cli(fixturePath('socket_count_kern.o'), '--pin', dir, '--reuse-pinned');
      expect(again.status).to.equal(2);
      expect(again.stderr).to.match(/programs are already pinned in .*\/progs: count_packets .*--force/);
      expect(readdirSync(join(dir, 'maps'))).to.deep.equal(['counts']);
      const forced = cli(fixturePath('socket_count_kern.o'), '--pin', dir, '--reuse-pinned', '--force');
      expect(forced.status, forced.stderr).to.equal(0);
    });

    it('after --attach and SIGINT it says what it detached and which loaded programs were never attached', async function () {
      requireTracefs(this);
      // a tracepoint program, which --attach attaches, and an XDP one, which needs an interface it is not given
      const run = startNode([CLI, fixturePath('prog_types_kern.o'), '--programs', 'on_tracepoint,on_xdp', '--attach']);
      try {
        await run.waitFor(/press Ctrl-C to detach and exit/);
        run.child.kill('SIGINT');
        expect((await run.exited).code, run.stderr()).to.equal(0);
        expect(run.stdout()).to.match(/^detached on SIGINT: on_tracepoint -> tracepoint syscalls\/sys_enter_getpid/m);
        expect(run.stdout()).to.match(/^loaded but never attached: on_xdp \(sec 'xdp_pass'\)/m);
      } finally {
        run.child.kill('SIGKILL');
      }
    });
  });

  describe('namespaces and mounts', () => {
    let netns = '';
    before(function () {
      requireKernel(this);
      requireRoot(this);
      requireTool(this, 'ip');
      netns = uniqueName('lko');
      execFileSync('ip', ['netns', 'add', netns]);
    });
    after(() => {
      if (netns) spawnSync('ip', ['netns', 'del', netns]);
    });

    it('--pin under ip netns exec (no bpffs in its private mount namespace) is refused instead of pinning into a bpffs that vanishes', () => {
      const dir = `/sys/fs/bpf/${uniqueName('netns-pin')}`;
      try {
        const run = inNetns(netns, fixturePath('socket_count_kern.o'), '--pin', dir);
        expect(run.status, run.stderr).to.equal(1);
        expect(run.stderr).to.match(/no bpf filesystem is mounted at \/sys\/fs\/bpf in this mount namespace, which was made for this command \(as `ip netns exec` does/);
        expect(run.stdout).to.not.match(/stay after this command exits/);
        expect(existsSync(dir)).to.equal(false);
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    });

    it('tracefs not mounted (ip netns exec mounts /sys afresh) exits 1, as docs/errors.md says of what the system lacks', () => {
      const run = inNetns(netns, fixturePath('tracing_kern.o'), '--attach', '--duration', '0');
      expect(run.status, run.stderr).to.equal(1);
      expect(run.stderr).to.match(/tracefs is not mounted/);
    });
  });

  describe('events', () => {
    before(function () {
      requireKernel(this);
      requireRoot(this);
      requireTracefs(this);
    });

    /** execve()s, each a record of trace_output_kern.o, until stopped */
    function keepExecing(): () => void {
      const timer = setInterval(() => spawnSync('/bin/true'), 20);
      return () => clearInterval(timer);
    }

    for (const duration of [[], ['--duration', '60']]) {
      it(`events … ${duration.join(' ')} | head -2 exits at once when head does, detaching`, async () => {
        const stop = keepExecing();
        try {
          const started = Date.now();
          // pipefail: the status is the CLI's own, which a reader that left is no failure of
          const shell = spawn('bash', ['-c', `set -o pipefail; "${process.execPath}" "${CLI}" events "${fixturePath('trace_output_kern.o')}" --map my_map ${duration.join(' ')} | head -2`], {
            stdio: ['ignore', 'pipe', 'pipe'],
          });
          let out = '';
          let err = '';
          shell.stdout.on('data', (chunk: Buffer) => (out += chunk.toString()));
          shell.stderr.on('data', (chunk: Buffer) => (err += chunk.toString()));
          const code = await new Promise<number | null>((resolve) => shell.once('close', (status) => resolve(status)));
          expect(out.trim().split('\n')).to.have.length(2);
          expect(err).to.match(/the output was closed, so it stopped reading and detached/);
          // far sooner than --duration: it stopped at the first write after head left
          expect(Date.now() - started).to.be.below(30_000);
          expect(code, err).to.equal(0);
        } finally {
          stop();
        }
      });
    }

    it('events says why it stopped when its reader left, and exits 0', async () => {
      const stop = keepExecing();
      const run = spawn(process.execPath, [CLI, 'events', fixturePath('trace_output_kern.o'), '--map', 'my_map'], { stdio: ['ignore', 'pipe', 'pipe'] });
      let err = '';
      run.stderr.on('data', (chunk: Buffer) => (err += chunk.toString()));
      try {
        await new Promise<void>((resolve) => run.stdout.once('data', () => resolve()));
        run.stdout.destroy();
        const code = await new Promise<number | null>((resolve) => run.once('close', (status) => resolve(status)));
        expect(code, err).to.equal(0);
        expect(err).to.match(/\d+ records, \d+ lost; the output was closed, so it stopped reading and detached/);
      } finally {
        stop();
        run.kill('SIGKILL');
      }
    });

    it('events takes the load options (--programs, --pin, --convention) and prints decoded values with --value', async () => {
      const root = freshPinRoot('events');
      const stop = keepExecing();
      try {
        const dir = join(root, 'trace');
        const run = startNode([CLI, 'events', fixturePath('trace_output_kern.o'), '--map', 'my_map', '--programs', 'trace_execve',
          '--convention', 'samples', '--pin', dir, '--value', 'u32', '--duration', '3']);
        await waitUntil('a few records', () => run.stdout().split('\n').length > 3, 20_000);
        expect((await run.exited).code, run.stderr()).to.equal(0);
        // the first 4 bytes of each record are the pid, printed as a number
        expect(run.stdout()).to.match(/^cpu \d+: [1-9]\d*$/m);
        expect(readdirSync(join(dir, 'maps'))).to.deep.equal(['my_map']);
      } finally {
        stop();
        removePinRoot(root);
      }
    });
  });
});
