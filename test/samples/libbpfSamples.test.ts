import { expect } from 'chai';
import { spawn, spawnSync } from 'node:child_process';
import { closeSync, existsSync, mkdtempSync, openSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { generateSkeleton, loadBpfFile, possibleCpus, tracefsRoot } from '../../loader/index.js';
import { fixtureBytes, fixturePath, repoRoot } from '../support/fixtures.js';
import { tscStrict } from '../support/tsc.js';
import { requireFeature, requireKernel, requireTool, requireTracefs } from '../support/kernel.js';
import { sleep, startNode, type Running } from '../support/processes.js';
import { runSample, samplePath } from '../support/samples.js';
import { freshPinRoot, removePinRoot } from '../support/bpffs.js';
import { compareWithLibbpf, coreDifferencesFromLibbpf, libbpfCoreLog, libbpfOracleMissing } from '../support/libbpfOracle.js';
import { viewOf } from '../modern/view.js';
import { objectBtf, objectBtfExt } from '../../elf/btf/index.js';
import { readElf } from '../../elf/elfFile.js';
import { coreFunctions, kernelBtf, relocateCoreAgainstKernel } from '../../loader/btf/index.js';

/**
 * The libbpf-style samples (libbpf-bootstrap's minimal and bootstrap, bcc's opensnoop) as a user
 * runs them: each a real process, its BPF side set up through the typed skeleton, asserting what
 * is certain (the exec of a command this test runs, a file this test opens, the lines of the pid
 * the filter names), and the skeletons they use kept equal to what gen-types writes today.
 */

const SAMPLES = ['minimal', 'bootstrap', 'opensnoop'] as const;
/** The record types each sample's skeleton is generated with (gen-types --type NAME). */
const RECORD_TYPES: Record<(typeof SAMPLES)[number], string[]> = { minimal: [], bootstrap: ['event'], opensnoop: ['event'] };
const IMPORT_FROM = '../../loader/index.js';
const LIBRARY = join(repoRoot, 'dist', 'loader', 'index.js');

function skeletonSource(name: string): string {
  return readFileSync(join(repoRoot, 'samples', 'skel', `${name}.skel.ts`), 'utf8');
}

/** A sample run with `args`, `act` done once it printed `ready` (it is attached then), to its end. */
async function during(name: string, args: string[], ready: RegExp, act: () => Promise<void> | void): Promise<Running> {
  const run = startNode([samplePath(name), ...args]);
  try {
    await run.waitFor(ready, 30_000);
    await act();
  } catch (error) {
    run.child.kill('SIGINT');
    await run.exited;
    throw error;
  }
  const { code } = await run.exited;
  expect(code, `${name} ${args.join(' ')}: ${run.stderr()}`).to.equal(0);
  return run;
}

/** Runs `command` as this process's child; resolves with its pid once it exited. */
function runChild(command: string, args: string[]): Promise<number> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { stdio: 'ignore' });
    child.once('error', reject);
    child.once('exit', () => resolve(child.pid!));
  });
}

describe('samples: the skeletons samples/skel/ holds are what gen-types writes from their objects', () => {
  for (const name of SAMPLES) {
    it(`samples/skel/${name}.skel.ts`, () => {
      const object = `samples-modern/${name}.bpf.o`;
      const types = RECORD_TYPES[name];
      const expected = generateSkeleton(fixtureBytes(object), { objectPath: `fixtures/${object}`, importFrom: IMPORT_FROM, types });
      expect(skeletonSource(name) === expected,
        `samples/skel/${name}.skel.ts is stale: node dist/loader/cli/bin.cjs gen-types fixtures/${object} ` +
        `${types.map((t) => `--type ${t} `).join('')}--import-from ${IMPORT_FROM} -o samples/skel/${name}.skel.ts`).to.equal(true);
    });
  }
});

describe('samples: the skeletons catch a wrong key, value, variable or program at compile time', function () {
  this.timeout(60_000);
  let dir: string;
  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'bpf-load-sample-skel-'));
    for (const name of SAMPLES) {
      writeFileSync(join(dir, `${name}.skel.ts`), skeletonSource(name).replace(JSON.stringify(IMPORT_FROM), JSON.stringify(LIBRARY)));
    }
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  /** Each line is one mistake; every one must be an error on its own line, and nothing else. */
  const MISTAKES = [
    `boot.maps.exec_start.lookup(1n);`, // pid_t key: a number
    `boot.maps.exec_start.lookup('1');`,
    `boot.maps.exec_start.update(1, 2);`, // __u64 value: a bigint
    `snoop.maps.start.update(1, { fname: 1n });`, // struct args_t without flags
    `snoop.maps.start.update(1, { fname: 1, flags: 0 });`, // a pointer is a bigint
    `snoop.maps.events.lookup(0, 1);`, // a perf event array is a raw BpfMap
    `snoop.variables.targ_pid.set('1');`,
    `void load.bootstrap(undefined, { variables: { min_duration_ns: 5 } });`, // __u64: a bigint before the load too
    `void load.minimal(undefined, { variables: { target_pid: '1' } });`,
    `void load.minimal(undefined, { variables: { target_tgid: 1 } });`, // no such variable
    `void mini.programs.handle_read;`,
    `void mini.maps.rb;`,
    `void boot.records.event.decode(Buffer.alloc(168)).filename_len;`, // struct event has no such member
    `const code: string = boot.records.event.decode(Buffer.alloc(168)).exit_code;`, // unsigned int: a number
    `void mini.records.event;`, // minimal's skeleton was generated with no --type
  ];


  const HEAD = [
    `import { load as minimal } from './minimal.skel.js';`,
    `import { load as bootstrap, recordTypes, type event } from './bootstrap.skel.js';`,
    `import { load as opensnoop } from './opensnoop.skel.js';`,
    `const load = { minimal, bootstrap, opensnoop };`,
    `const mini = await load.minimal(undefined, { variables: { target_pid: 1 } });`,
    `const boot = await load.bootstrap(undefined, { variables: { min_duration_ns: 5n } });`,
    `const snoop = await load.opensnoop(undefined, { variables: { targ_pid: 1, targ_uid: 0, targ_failed: true } });`,
  ];

  it('right uses compile', () => {
    const right = [
      ...HEAD,
      `const started: bigint | undefined = boot.maps.exec_start.lookup(1);`,
      `snoop.maps.start.update(1, { fname: 1n, flags: 0 });`,
      `const pid: number = mini.variables.target_pid.get();`,
      `const failed: boolean = snoop.variables.targ_failed.get();`,
      `const ids: number[] = [mini.programs.handle_write.id, boot.programs.handle_exec.id, snoop.programs.exit_openat.id];`,
      `const e: event = boot.records.event.decode(Buffer.alloc(168));`,
      `const exited: boolean = e.exit_event;`,
      `const ran: bigint = e.duration_ns;`,
      `const where: string = e.filename + e.comm + boot.records.event.type;`,
      `void [started, pid, failed, ids, boot.maps.rb.fd, snoop.maps.events.fd, exited, ran, where, recordTypes().event.size];`,
      'export {};',
    ];
    writeFileSync(join(dir, 'right.ts'), `${right.join('\n')}\n`);
    const { status, output } = tscStrict(dir, ['right.ts'], { noUnusedLocals: false });
    expect(output).to.equal('');
    expect(status).to.equal(0);
  });

  it('each mistake is a compile error on its own line', () => {
    writeFileSync(join(dir, 'wrong.ts'), `${[...HEAD, ...MISTAKES, 'export {};'].join('\n')}\n`);
    const { status, output } = tscStrict(dir, ['wrong.ts'], { noUnusedLocals: false });
    expect(status).to.not.equal(0);
    const lines = new Set([...output.matchAll(/wrong\.ts\((\d+),\d+\): error/g)].map((m) => Number(m[1])));
    expect([...lines].sort((a, b) => a - b), output).to.deep.equal(MISTAKES.map((_, i) => HEAD.length + 1 + i));
  });
});

describe('samples: the libbpf-style samples run as documented', function () {
  this.timeout(90_000);
  before(function () {
    requireKernel(this);
    requireTracefs(this);
  });

  it('minimal: prints the write() calls of its own pid, and removes its tracefs instance', async () => {
    const run = await during('minimal', ['--duration', '2'], /^minimal: write\(2\) calls of pid \d+/m, () => {});
    const pid = run.child.pid!;
    expect(run.stdout()).to.include(`minimal: write(2) calls of pid ${pid} `);
    const lines = run.stdout().split('\n').filter((l) => l.includes('bpf_trace_printk:'));
    // it writes a dot to stderr every second, so it saw itself at least once; and it prints only
    // its own program's lines about that pid, whatever else calls bpf_printk on the machine
    expect(lines.length, run.stdout()).to.be.greaterThan(0);
    for (const line of lines) expect(line).to.match(new RegExp(`-${pid} +\\[\\d+\\].*: bpf_trace_printk: BPF triggered from PID ${pid}\\.$`));
    expect(existsSync(join(tracefsRoot()!, 'instances', `bpf-load-minimal-${pid}`))).to.equal(false);
  });

  it('minimal interrupted at any point (SIGINT, SIGTERM) leaves no tracefs instance behind', async () => {
    for (const [i, delay] of [50, 150, 300, 600, 1500].entries()) {
      const run = startNode([samplePath('minimal')]);
      await sleep(delay);
      run.child.kill(i % 2 ? 'SIGTERM' : 'SIGINT');
      await run.exited;
      expect(existsSync(join(tracefsRoot()!, 'instances', `bpf-load-minimal-${run.child.pid}`)), `after ${delay} ms`).to.equal(false);
    }
  });

  it('minimal -p PID: the const volatile filter set before the load picks that process instead', async () => {
    // a process that writes 10 times a second
    const writer = spawn(process.execPath, ['-e', 'setInterval(() => process.stdout.write("x"), 100)'], { stdio: ['ignore', 'pipe', 'ignore'] });
    writer.stdout!.resume();
    try {
      const run = await during('minimal', ['-p', String(writer.pid), '--duration', '2'], /^minimal: write\(2\) calls of pid/m, () => {});
      const lines = run.stdout().split('\n').filter((l) => l.includes('bpf_trace_printk:'));
      expect(lines.length, run.stdout()).to.be.at.least(5);
      for (const line of lines) expect(line).to.match(new RegExp(`BPF triggered from PID ${writer.pid}\\.$`));
      expect(run.stdout()).to.not.include(`from PID ${run.child.pid}.`);
    } finally {
      writer.kill();
    }
  });

  it('bootstrap: sees the exec and the exit of a command this test runs, with its pid, parent, file and exit code', async () => {
    let pid = 0;
    const run = await during('bootstrap', ['--duration', '2'], /^TIME +EVENT +COMM +PID +PPID/m, async () => {
      pid = await runChild('sh', ['-c', 'exit 7']);
    });
    const lines = run.stdout().split('\n');
    const exec = lines.find((l) => / EXEC +sh +/.test(l) && l.split(/ +/)[3] === String(pid));
    expect(exec, run.stdout()).to.match(new RegExp(`^\\d\\d:\\d\\d:\\d\\d EXEC +sh +${pid} +${process.pid} +/\\S*/sh$`));
    const exit = lines.find((l) => / EXIT +sh +/.test(l) && l.split(/ +/)[3] === String(pid));
    expect(exit, run.stdout()).to.match(new RegExp(`^\\d\\d:\\d\\d:\\d\\d EXIT +sh +${pid} +${process.pid} +\\[7\\] \\(\\d+ms\\)$`));
  });

  it('bootstrap -d MIN_MS -v: min_duration_ns set before the load keeps only the exits of processes that ran that long', async () => {
    let slow = 0;
    let quick = 0;
    const run = await during('bootstrap', ['-d', '300', '-v', '--duration', '2'], /^TIME +EVENT/m, async () => {
      [slow, quick] = await Promise.all([runChild('sh', ['-c', 'sleep 0.5; exit 4']), runChild('sh', ['-c', 'exit 5'])]);
    });
    expect(run.stderr()).to.match(/bootstrap: program handle_exec \(id \d+\)/).and.include('bootstrap: min_duration_ns = 300000000');
    const lines = run.stdout().split('\n').slice(1).filter((l) => l !== '');
    expect(lines.filter((l) => / EXEC /.test(l)), run.stdout()).to.deep.equal([]);
    const exit = lines.find((l) => l.split(/ +/)[3] === String(slow));
    const ms = Number(/\[4\] \((\d+)ms\)$/.exec(exit ?? '')?.[1]);
    expect(ms >= 300, run.stdout()).to.equal(true);
    expect(lines.some((l) => l.split(/ +/)[3] === String(quick)), run.stdout()).to.equal(false);
  });

  it('opensnoop -p PID: a file this process opens and one it fails to open, with the fd and the errno', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'bpf-load-opensnoop-'));
    try {
      const there = join(dir, 'there');
      const missing = join(dir, 'missing');
      writeFileSync(there, '');
      let fd = -1;
      const run = await during('opensnoop', ['-p', String(process.pid), '-U', '-e', '-d', '2'], /^UID +PID +COMM +FD +ERR +FLAGS +PATH$/m, () => {
        fd = openSync(there, 'r');
        closeSync(fd);
        expect(() => openSync(missing, 'r')).to.throw(/ENOENT/);
      });
      const comm = readFileSync(`/proc/${process.pid}/comm`, 'utf8').trim().slice(0, 15);
      const lines = run.stdout().split('\n').slice(1).filter((l) => l !== '');
      for (const line of lines) expect(line.split(/ +/)[1], run.stdout()).to.equal(String(process.pid));
      const escaped = (s: string): string => s.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&');
      const uid = process.getuid!();
      // O_RDONLY|O_CLOEXEC: 02000000
      expect(lines.find((l) => l.endsWith(` ${there}`)), run.stdout())
        .to.match(new RegExp(`^${uid} +${process.pid} +${escaped(comm)} +${fd} +0 02000000 +${escaped(there)}$`));
      expect(lines.find((l) => l.endsWith(` ${missing}`)), run.stdout())
        .to.match(new RegExp(`^${uid} +${process.pid} +${escaped(comm)} +-1 +2 02000000 +${escaped(missing)}$`));
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('opensnoop -x -T: only the calls that failed (targ_failed, set before the load), with timestamps', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'bpf-load-opensnoop-'));
    try {
      const there = join(dir, 'there');
      writeFileSync(there, '');
      const run = await during('opensnoop', ['-x', '-T', '-p', String(process.pid), '--duration', '2'], /^TIME\(s\) +PID +COMM/m, () => {
        closeSync(openSync(there, 'r'));
        expect(() => openSync(join(dir, 'missing'), 'r')).to.throw(/ENOENT/);
      });
      const lines = run.stdout().split('\n').slice(1).filter((l) => l !== '');
      expect(lines.some((l) => l.endsWith(`${dir}/missing`)), run.stdout()).to.equal(true);
      // the first event is at 0.000, the others after it
      for (const line of lines) expect(line, run.stdout()).to.match(/^\d+\.\d{3} +\d+ .* -1 +\d+ \S/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('bootstrap -v, then Ctrl-C: exits 0 and its programs are gone from the kernel', async () => {
    const run = startNode([samplePath('bootstrap'), '-v']);
    await run.waitFor(/^TIME +EVENT/m, 30_000);
    const ids = [...run.stderr().matchAll(/bootstrap: program \w+ \(id (\d+)\)/g)].map((m) => Number(m[1]));
    expect(ids, run.stderr()).to.have.length(2);
    run.child.kill('SIGINT');
    expect((await run.exited).code, run.stderr()).to.equal(0);
    for (const id of ids) {
      const show = spawnSync('bpftool', ['prog', 'show', 'id', String(id)], { encoding: 'utf8' });
      expect(show.status, `prog ${id} still loaded: ${show.stdout}`).to.not.equal(0);
    }
  });

  it('opensnoop | head -n 2: stops when its reader goes, exit 0', () => {
    // cat opens /dev/null every 200 ms: the second line is certain to come, and the write after it
    // (the first that finds no reader) stops the sample
    const script = `while :; do cat /dev/null; sleep 0.2; done & loop=$!
      node ${JSON.stringify(samplePath('opensnoop'))} -n cat -d 60 | head -n 2; status=$?
      kill $loop; exit $status`;
    const piped = spawnSync('bash', ['-o', 'pipefail', '-c', script], { encoding: 'utf8', timeout: 30_000 });
    expect(piped.error, 'it ended well before its 60 s').to.equal(undefined);
    expect(piped.status, piped.stderr).to.equal(0);
    expect(piped.stdout).to.match(/^PID +COMM +FD +ERR +PATH\n\d+ +cat +\d+ +0 \S+\n$/);
  });

  it('--help prints the usage, exit 0', () => {
    for (const name of SAMPLES) {
      const { status, stdout } = runSample(name, '--help');
      expect(status).to.equal(0);
      expect(stdout).to.match(new RegExp(`^usage: ${name} `));
    }
  });

  it('a perf event array without max_entries has a slot per CPU, as libbpf makes it (what opensnoop reads)', async () => {
    const obj = await loadBpfFile(fixturePath('samples-modern/opensnoop.bpf.o'));
    try {
      expect(obj.map('events').maxEntries).to.equal(possibleCpus());
    } finally {
      obj.close();
    }
  });

  it('bad options say so and exit 2', () => {
    for (const [name, args, message] of [
      ['opensnoop', ['-p', 'abc'], /--pid must be a process id, not 'abc'/],
      ['bootstrap', ['-d', 'soon'], /-d must be a whole number of milliseconds, not 'soon'/],
      ['minimal', ['-p', '0'], /-p must be a process id, not '0'/],
      ['opensnoop', ['--no-such-option'], /Unknown option '--no-such-option'/],
    ] as const) {
      const { status, stderr } = runSample(name, ...args);
      expect([status, stderr]).to.satisfy(([s, e]: [number, string]) => s === 2 && message.test(e), `${name} ${args.join(' ')}: ${stderr}`);
    }
  });
});

describe("samples: their objects load as libbpf 1.x loads them", function () {
  this.timeout(120_000);
  before(function () {
    requireKernel(this);
    requireFeature(this, 'the libbpf oracle (cc, libbpf-dev, bpftool)', libbpfOracleMissing());
  });

  for (const name of SAMPLES) {
    it(`${name}.bpf.o: same maps and translated instructions as libbpf`, async () => {
      const path = fixturePath(`samples-modern/${name}.bpf.o`);
      const pinRoot = freshPinRoot('samples-bpfload');
      const libbpfRoot = freshPinRoot('samples-libbpf');
      try {
        const obj = await loadBpfFile(path, { pinning: { root: pinRoot } });
        try {
          const { differences } = await compareWithLibbpf(path, viewOf(obj), { pinRoot: libbpfRoot });
          expect(differences).to.deep.equal([]);
        } finally {
          obj.close();
        }
      } finally {
        removePinRoot(pinRoot);
        removePinRoot(libbpfRoot);
      }
    });
  }

  for (const name of ['bootstrap', 'opensnoop']) {
    it(`${name}.bpf.o: every CO-RE patch equals libbpf's`, () => {
      const path = fixturePath(`samples-modern/${name}.bpf.o`);
      const elf = readElf(fixtureBytes(`samples-modern/${name}.bpf.o`), path);
      const btf = objectBtf(elf, path)!;
      const ext = objectBtfExt(elf, btf, path)!;
      const patches = relocateCoreAgainstKernel(coreFunctions(elf, ext), ext, btf, kernelBtf());
      const log = libbpfCoreLog(path);
      expect(log.relocations.length, 'libbpf relocated something').to.be.greaterThan(0);
      expect(coreDifferencesFromLibbpf(log, patches.map((p) => ({
        program: p.program, insn: p.insn, poisoned: p.poisoned, ...(p.to !== undefined && { to: p.to }),
      })))).to.deep.equal([]);
    });
  }
});

describe('samples: the BPF C builds unchanged against a vmlinux.h bpftool makes from this kernel', function () {
  this.timeout(180_000);
  let work: string;
  before(function () {
    requireTool(this, 'clang');
    requireTool(this, 'bpftool');
    requireKernel(this);
    work = mkdtempSync(join(tmpdir(), 'bpf-load-vmlinux-h-'));
    const dump = spawnSync('bpftool', ['btf', 'dump', 'file', '/sys/kernel/btf/vmlinux', 'format', 'c'], { encoding: 'utf8', maxBuffer: 1 << 28 });
    expect(dump.status, dump.stderr).to.equal(0);
    writeFileSync(join(work, 'vmlinux.h'), dump.stdout);
  });
  after(() => {
    if (work) rmSync(work, { recursive: true, force: true });
  });

  for (const name of SAMPLES) {
    it(`${name}.bpf.c builds and loads with the same programs and maps`, async () => {
      const object = join(work, `${name}.bpf.o`);
      const build = spawnSync('clang', [
        '-O2', '-g', '-target', 'bpf', '-D__TARGET_ARCH_x86', '-Wall', '-Werror', `-I${work}`,
        '-c', fixturePath(`samples-modern/${name}.bpf.c`), '-o', object,
      ], { encoding: 'utf8' });
      expect(build.status, build.stderr).to.equal(0);
      const names = async (path: string): Promise<string[]> => {
        const obj = await loadBpfFile(path);
        try {
          return [...obj.programs.map((p) => p.name), ...obj.maps.map((m) => `${m.name}:${m.typeName}:${m.keySize}:${m.valueSize}`)];
        } finally {
          obj.close();
        }
      };
      expect(await names(object)).to.deep.equal(await names(fixturePath(`samples-modern/${name}.bpf.o`)));
    });
  }
});
