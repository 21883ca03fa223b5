import { expect } from 'chai';
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { CoreRelocationReport } from '../../loader/index.js';
import { reportDifferencesFromLibbpf, comparedCount } from '../support/coreReports.js';
import { fixturePath, repoRoot } from '../support/fixtures.js';
import { requireFeature, requireKernel, requireRoot, requireTool } from '../support/kernel.js';
import { libbpfCoreLog, libbpfOracleMissing } from '../support/libbpfOracle.js';
import { CLI, runNodeUnprivileged } from '../support/processes.js';

/** The load command's --core, as a real process: the table and --json, after a load and with --dry-run, against libbpf's log. */

const KINDS = fixturePath('modern/core_kinds.bpf.o');
/** its USDT programs call libbpf's usdt.bpf.h functions, whose CO-RE records are in .text */
const SUBPROGRAMS = fixturePath('modern/uprobe_usdt.bpf.o');

function cli(...args: string[]): { status: number | null; out: string; err: string } {
  const result = spawnSync(process.execPath, [CLI, ...args], { encoding: 'utf8', cwd: repoRoot });
  return { status: result.status, out: result.stdout, err: result.stderr };
}

interface CoreJson {
  insn: number;
  function: string;
  function_insn: number;
  kind: CoreRelocationReport['kind'];
  local_type: { id: number; kind: string; name: string };
  access_string: string;
  local_spec: string;
  target: { id: number; kind: string; name: string; btf: string; spec: string } | null;
  old: number;
  new: number | null;
  mem_size?: { old: number; new: number };
  poisoned: boolean;
  description: string[];
}

interface ProgramJson {
  name: string;
  core?: CoreJson[];
}

function programsOf(out: string): ProgramJson[] {
  return (JSON.parse(out) as { programs: ProgramJson[] }).programs;
}

/** The JSON's relocations back in the API's shape, so that they compare with libbpf's log as the API's do. */
function asReports(programs: ProgramJson[]): Record<string, CoreRelocationReport[]> {
  return Object.fromEntries(programs.map((p) => [p.name, (p.core ?? []).map((c): CoreRelocationReport => ({
    insn: c.insn, function: c.function, functionInsn: c.function_insn, kind: c.kind, localType: c.local_type, accessString: c.access_string,
    localSpec: c.local_spec, target: c.target ?? undefined, oldValue: BigInt(c.old), newValue: c.new === null ? undefined : BigInt(c.new),
    ...(c.mem_size && { memSize: c.mem_size }), poisoned: c.poisoned, description: c.description,
  }))]));
}

/** The rows of the `CO-RE relocations of NAME (N…):` tables, by program, cells by column header. */
function coreTables(text: string): Record<string, Record<string, string>[]> {
  const tables: Record<string, Record<string, string>[]> = {};
  const lines = text.split('\n');
  for (let i = 0; i < lines.length; i++) {
    const title = /^CO-RE relocations of (\S+) \(\d+(?:, \d+ poisoned)?\):$/.exec(lines[i]!);
    if (!title) continue;
    const header = lines[i + 1]!;
    const columns = ['insn', 'in', 'kind', 'local', 'access', 'target', 'old -> new'].filter((c) => header.includes(c === 'in' ? ' in ' : c));
    const starts = columns.map((c) => (c === 'insn' ? 0 : header.indexOf(c === 'in' ? ' in ' : c) + (c === 'in' ? 1 : 0)));
    const rows: Record<string, string>[] = [];
    for (let j = i + 2; j < lines.length && /^ *\d+ /.test(lines[j]!); j++) {
      const line = lines[j]!;
      rows.push(Object.fromEntries(columns.map((c, k) => [c, line.slice(starts[k], starts[k + 1] ?? line.length).trim()])));
    }
    tables[title[1]!] = rows;
  }
  return tables;
}

describe('cli: --core lists what CO-RE did', function () {
  this.timeout(60_000);

  describe('after a load, compared with libbpf', () => {
    beforeEach(function () {
      requireKernel(this);
      requireFeature(this, 'the libbpf oracle', libbpfOracleMissing());
    });

    for (const path of [KINDS, SUBPROGRAMS]) {
      const name = path.slice(path.lastIndexOf('/') + 1);
      it(`${name} --core --json: a "core" array per program, each relocation as libbpf logged it`, () => {
        const run = cli(path, '--core', '--json');
        expect(run.status, run.err).to.equal(0);
        const programs = programsOf(run.out);
        const log = libbpfCoreLog(path);
        expect(comparedCount(log)).to.be.greaterThan(0);
        expect(reportDifferencesFromLibbpf(log, asReports(programs))).to.deep.equal([]);
        expect(programs.flatMap((p) => p.core!).length).to.be.at.least(comparedCount(log));
      });
    }

    it('the table: one per program, a row per relocation, the same instructions and values as --json', () => {
      const json = programsOf(cli(KINDS, '--core', '--json').out);
      const run = cli(KINDS, '--core');
      expect(run.status, run.err).to.equal(0);
      // after the usual tables
      expect(run.out.indexOf('CO-RE relocations of answer_core')).to.be.greaterThan(run.out.indexOf('programs (1):'));
      const tables = coreTables(run.out);
      expect(Object.keys(tables)).to.deep.equal(json.map((p) => p.name));
      const rows = tables['answer_core']!;
      const core = json[0]!.core!;
      expect(rows.map((r) => Number(r['insn']))).to.deep.equal(core.map((c) => c.insn));
      expect(rows.map((r) => r['kind'])).to.deep.equal(core.map((c) => c.kind));
      expect(rows.map((r) => r['access'])).to.deep.equal(core.map((c) => c.access_string));
      expect(rows.map((r) => r['old -> new'])).to.deep.equal(core.map((c) => (c.poisoned ? `${c.old} -> poisoned` : `${c.old} -> ${c.new}`)));
      expect(rows.map((r) => r['target'])).to.deep.equal(core.map((c) => (c.target ? `${c.target.btf} ${c.target.kind} ${c.target.name} [${c.target.id}]` : '-')));
      expect(run.out).to.match(/^CO-RE relocations of answer_core \(28, 1 poisoned\):$/m);
      expect(rows.find((r) => r['old -> new']!.endsWith('poisoned'))!['local']).to.equal('struct task_struct___pre514.state [11]');
    });

    it('a relocation in a .text function names it and its own instruction index, as libbpf does', () => {
      const run = cli(SUBPROGRAMS, '--core');
      expect(run.status, run.err).to.equal(0);
      const inFunctions = Object.values(coreTables(run.out)).flat().filter((r) => r['in']);
      expect(inFunctions.length).to.be.greaterThan(0);
      for (const row of inFunctions) expect(row['in']).to.match(/^\w+\+\d+$/);
    });
  });

  it('without --core: no "core" key and no table (the documented shape is unchanged)', () => {
    const json = cli(KINDS, '--dry-run', '--json');
    expect(json.status, json.err).to.equal(0);
    for (const program of programsOf(json.out)) expect(program).not.to.have.property('core');
    expect(cli(KINDS, '--dry-run').out).not.to.contain('CO-RE');
  });

  it('an object without CO-RE records: each program says none, and an empty "core"', () => {
    const text = cli(fixturePath('sockex1_kern.o'), '--dry-run', '--core');
    expect(text.status, text.err).to.equal(0);
    expect(text.out).to.match(/\nCO-RE relocations of bpf_prog1: none\n$/);
    const json = cli(fixturePath('sockex1_kern.o'), '--dry-run', '--core', '--json');
    expect(programsOf(json.out).map((p) => p.core)).to.deep.equal([[]]);
  });

  it('--dry-run as nobody: the same relocations as a load as root, loading nothing', function () {
    requireKernel(this);
    requireRoot(this);
    const loaded = cli(KINDS, '--core', '--json');
    expect(loaded.status, loaded.err).to.equal(0);
    const dry = runNodeUnprivileged('nobody', [CLI, KINDS, '--core', '--json', '--dry-run'], { cwd: repoRoot });
    expect(dry.status, dry.stderr).to.equal(0);
    expect(dry.stderr).to.equal('');
    expect(programsOf(dry.stdout).map((p) => p.core)).to.deep.equal(programsOf(loaded.out).map((p) => p.core));
    expect(programsOf(dry.stdout)[0]!.core!.length).to.equal(28);
  });

  it('--dry-run --programs: the programs that command would load, their names checked as a load checks them', function () {
    requireKernel(this);
    requireRoot(this);
    const bootstrap = fixturePath('samples-modern/bootstrap.bpf.o');
    const loaded = cli(bootstrap, '--programs', 'handle_exit', '--core', '--json');
    expect(loaded.status, loaded.err).to.equal(0);
    const dry = cli(bootstrap, '--programs', 'handle_exit', '--core', '--json', '--dry-run');
    expect(dry.status, dry.err).to.equal(0);
    expect(programsOf(dry.out).map((p) => p.name)).to.deep.equal(['handle_exit']);
    expect(programsOf(dry.out).map((p) => p.core)).to.deep.equal(programsOf(loaded.out).map((p) => p.core));
    const text = cli(bootstrap, '--programs', 'handle_exit', '--core', '--dry-run');
    expect(text.out).to.contain('CO-RE relocations of handle_exit (3').and.not.to.contain('handle_exec');
    const unknown = cli(bootstrap, '--programs', 'nope', '--dry-run');
    expect(unknown.status).to.equal(2);
    expect(unknown.out).to.equal('');
    expect(unknown.err).to.equal(cli(bootstrap, '--programs', 'nope').err);
    expect(unknown.err).to.contain("--programs names 'nope', which is no program of this object");
  });

  it('--dry-run --btf FILE: against that BTF (one without task_struct: no target, the reads poisoned)', () => {
    const run = cli(fixturePath('samples-modern/bootstrap.bpf.o'), '--core', '--json', '--dry-run', '--btf', fixturePath('modern/minimal.bpf.o'));
    expect(run.status, run.err).to.equal(0);
    const core = programsOf(run.out).flatMap((p) => p.core!);
    expect(core.length).to.equal(6);
    expect(core.every((c) => c.target === null && c.poisoned && c.new === null)).to.equal(true);
  });

  for (const [situation, setup, expected] of [
    ['is missing (a kernel without CONFIG_DEBUG_INFO_BTF)', '', /cannot be read \(this kernel was built without CONFIG_DEBUG_INFO_BTF: pass btfPath/],
    ['is there but unreadable to this user', 'touch /sys/kernel/btf/vmlinux && chmod 000 /sys/kernel/btf/vmlinux', /cannot be read \(EACCES\) \(it is readable by every user on a usual system/],
  ] as const) {
    it(`--dry-run --core as nobody where /sys/kernel/btf/vmlinux ${situation}: exit 1, one line, nothing on stdout`, function () {
      requireRoot(this);
      requireTool(this, 'unshare');
      requireTool(this, 'setpriv');
      // a mount namespace of its own, with an empty /sys/kernel/btf
      const script = `mount -t tmpfs none /sys/kernel/btf && ${setup || 'true'} && exec setpriv --reuid=65534 --regid=65534 --clear-groups "$@"`;
      const run = spawnSync('unshare', ['--mount', '--propagation', 'private', 'sh', '-c', script, 'sh', process.execPath, CLI, KINDS, '--dry-run', '--core'], {
        encoding: 'utf8', cwd: repoRoot, timeout: 30_000,
      });
      expect(run.status, run.stderr).to.equal(1);
      expect(run.stdout).to.equal('');
      expect(run.stderr.trim().split('\n')).to.have.length(1);
      expect(run.stderr).to.match(expected);
      // the same object without --core reads no BTF of the kernel
      const plain = spawnSync('unshare', ['--mount', '--propagation', 'private', 'sh', '-c', script, 'sh', process.execPath, CLI, KINDS, '--dry-run'], {
        encoding: 'utf8', cwd: repoRoot, timeout: 30_000,
      });
      expect(plain.status, plain.stderr).to.equal(0);
    });
  }

  it('a BTF file that cannot be read: exit 2, one line, nothing printed on stdout', () => {
    const run = cli(KINDS, '--core', '--dry-run', '--btf', '/nonexistent/vmlinux');
    expect(run.status).to.equal(2);
    expect(run.out).to.equal('');
    expect(run.err.trim().split('\n')).to.have.length(1);
    expect(run.err).to.contain('cannot read the BTF file /nonexistent/vmlinux');
  });

  it('a BTF file that is a FIFO: refused (exit 2), not opened and waited on', () => {
    const dir = mkdtempSync(join(tmpdir(), 'bpf-load-core-fifo-'));
    try {
      const fifo = join(dir, 'vmlinux');
      execFileSync('mkfifo', [fifo]);
      // blocked in open(2), the process would not even answer SIGTERM
      const run = spawnSync(process.execPath, [CLI, KINDS, '--core', '--dry-run', '--btf', fifo], { encoding: 'utf8', cwd: repoRoot, timeout: 30_000, killSignal: 'SIGKILL' });
      expect(run.status, run.stderr).to.equal(2);
      expect(run.stdout).to.equal('');
      expect(run.stderr).to.contain(`cannot read the BTF file ${fifo}: it is not a regular file`);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('through a pipe that closes early (| head -n 3): quiet, no stack, the lines head took', function () {
    requireFeature(this, 'the kernel BTF', existsSync('/sys/kernel/btf/vmlinux') ? undefined : '/sys/kernel/btf/vmlinux is missing');
    const child = spawnSync('bash', ['-c', `set -o pipefail; "${process.execPath}" "${CLI}" "${KINDS}" --dry-run --core | head -n 3`], {
      encoding: 'utf8', cwd: repoRoot, timeout: 30_000,
    });
    expect(child.stdout.split('\n').filter((l) => l !== '')).to.have.length(3);
    expect(child.stderr).to.equal('');
    // EPIPE, if the reader closed before the write ended, is exit 1 as for every command; never a crash (70)
    expect([0, 1]).to.include(child.status);
  });
});
