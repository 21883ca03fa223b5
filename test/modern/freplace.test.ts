import { expect } from 'chai';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { attachBtfProgram, loadBpfFile, LoadError, type BpfObject } from '../../loader/index.js';
import {
  BPF_PROG_LOAD, BPF_PROG_TYPE, StructCodec, objPin, overrideBpfSyscall, progGetInfo, progTestRun,
} from '../../syscall/index.js';
import { PROG_LOAD_ATTR } from '../../uapi/attrs.js';
import { bpftoolRun } from '../support/bpftool.js';
import { freshPinRoot, removePinRoot } from '../support/bpffs.js';
import { repoRoot } from '../support/fixtures.js';
import { fdinfo, requireFeature, requireKernel } from '../support/kernel.js';
import { compileWithLibbpf, libbpfOracleMissing } from '../support/libbpfOracle.js';
import { CLI } from '../support/processes.js';

/**
 * freplace: an extension (BPF_PROG_TYPE_EXT) loaded against a loaded XDP program and the id of
 * its global function `verdict` in that program's BTF, then attached with a link. libbpf, run on
 * the same two objects (test/oracle/freplace_oracle.c), says what this kernel does with it:
 * where it loads extensions, bpf-load's must change the target's BPF_PROG_TEST_RUN verdict from
 * XDP_PASS to XDP_DROP while attached, and back after; where it refuses them (EPERM, as it
 * refuses fentry here), bpf-load's error must say so before verification.
 */

const MODERN = join(repoRoot, 'fixtures', 'modern');
const TARGET = join(MODERN, 'freplace_target.bpf.o');
const EXT = join(MODERN, 'freplace.bpf.o');
const XDP_DROP = 1;
const XDP_PASS = 2;
const progLoadAttr = new StructCodec(PROG_LOAD_ATTR);

interface Oracle {
  ext_errno: number;
  attach_errno?: number;
  runs?: number[];
}

let oracle: Oracle | undefined;

function libbpfOnThisKernel(): Oracle {
  if (oracle) return oracle;
  const binary = compileWithLibbpf(join(repoRoot, 'test', 'oracle', 'freplace_oracle.c'), join(repoRoot, 'fixtures', 'build', 'freplace_oracle'));
  const run = spawnSync(binary, [TARGET, EXT], { encoding: 'utf8' });
  if (run.status !== 0) throw new Error(`freplace_oracle failed (${run.status}): ${run.stderr}`);
  oracle = JSON.parse(run.stdout.trim()) as Oracle;
  return oracle;
}

/** The target's verdict on a 64-byte packet. */
function verdictOf(target: BpfObject): number {
  return progTestRun(target.program('xdp_target').fd, { data_in: Buffer.alloc(64), repeat: 1 }).retval;
}

/** What BPF_PROG_LOAD of an EXT program was given (each try), through the real bpf(2). */
interface ExtLoad {
  attachBtfId: number;
  targetProgId: string | undefined;
}

async function recordingExtLoads<T>(body: () => Promise<T>): Promise<{ loads: ExtLoad[]; result: T | undefined; error: unknown }> {
  const loads: ExtLoad[] = [];
  const restore = overrideBpfSyscall((cmd, attr, size, real) => {
    if (cmd === BPF_PROG_LOAD && progLoadAttr.get(attr, 'prog_type') === BPF_PROG_TYPE.EXT) {
      const fd = progLoadAttr.get(attr, 'attach_prog_fd');
      loads.push({ attachBtfId: progLoadAttr.get(attr, 'attach_btf_id'), targetProgId: fdinfo(fd)['prog_id'] });
    }
    return real(cmd, attr, size);
  });
  try {
    return { loads, result: await body(), error: undefined };
  } catch (error) {
    return { loads, result: undefined, error };
  } finally {
    restore();
  }
}

/** `verdict`'s id in the BTF of the loaded program, as bpftool dumps that BTF. */
function bpftoolFuncId(btfId: number, name: string): number {
  const line = bpftoolRun('btf', 'dump', 'id', String(btfId)).split('\n').find((l) => l.includes(`FUNC '${name}' `));
  expect(line, `FUNC '${name}' in bpftool btf dump id ${btfId}`).to.be.a('string');
  return Number(/^\[(\d+)\]/.exec(line!)![1]);
}

function expectRefusedBeforeVerification(error: unknown, errnoName: string): void {
  expect(error).to.be.instanceOf(LoadError);
  const e = error as LoadError;
  expect(e.code).to.equal('BPF_LOAD_PROG');
  expect(e.errnoName).to.equal(errnoName);
  expect(e.message).to.contain(`prog 'new_verdict'`);
  expect(e.message).to.contain(`the kernel refused ext programs (freplace) before verification: ${errnoName}`);
}

describe('freplace: an extension of a loaded program', function () {
  this.timeout(60000);
  let target: BpfObject;
  let pins: string | undefined;
  before(async function () {
    requireKernel(this);
    requireFeature(this, 'libbpf (the oracle)', libbpfOracleMissing());
    target = await loadBpfFile(TARGET);
  });
  after(() => {
    target?.close();
    removePinRoot(pins);
  });

  it('the target runs its own verdict(): XDP_PASS, as under libbpf', () => {
    expect(verdictOf(target)).to.equal(XDP_PASS);
    const theirs = libbpfOnThisKernel();
    if (theirs.runs) expect(theirs.runs[0]).to.equal(XDP_PASS);
  });

  it("is loaded with the target's fd and verdict's id in its BTF (bpftool's), whether the target is a program, a pin or an id", async () => {
    const info = progGetInfo(target.program('xdp_target').fd);
    const expectedId = bpftoolFuncId(info.btf_id, 'verdict');
    pins = freshPinRoot('freplace');
    const pin = join(pins, 'target');
    objPin(target.program('xdp_target').fd, pin);
    for (const given of [target.program('xdp_target'), pin, { id: info.id }]) {
      const { loads, result, error } = await recordingExtLoads(() =>
        loadBpfFile(EXT, { programs: { select: ['new_verdict'], freplaceTargets: { new_verdict: given } } }));
      result?.close();
      expect(loads.length, `target ${JSON.stringify(given)}: ${String(error)}`).to.be.greaterThan(0);
      for (const load of loads) expect(load).to.deep.equal({ attachBtfId: expectedId, targetProgId: String(info.id) });
      const theirs = libbpfOnThisKernel();
      if (theirs.ext_errno === 0) expect(error, String(error)).to.equal(undefined);
      else expectRefusedBeforeVerification(error, theirs.ext_errno === 1 ? 'EPERM' : String(theirs.ext_errno));
    }
  });

  it("replaces verdict() while attached (XDP_DROP) and not after the link is closed, as libbpf's does; or is refused as libbpf is", async () => {
    const theirs = libbpfOnThisKernel();
    let ext: BpfObject | undefined;
    try {
      ext = await loadBpfFile(EXT, { programs: { select: ['new_verdict'], freplaceTargets: { new_verdict: target.program('xdp_target') } } });
    } catch (error) {
      // this kernel refuses extensions: libbpf must have been refused the same way
      expect(theirs.ext_errno, `libbpf loaded the extension and bpf-load did not: ${String(error)}`).to.not.equal(0);
      expectRefusedBeforeVerification(error, 'EPERM');
      expect(theirs.ext_errno).to.equal(1);
      expect(verdictOf(target)).to.equal(XDP_PASS);
      return;
    }
    try {
      expect(theirs.ext_errno, 'bpf-load loaded an extension libbpf could not').to.equal(0);
      const runs = [verdictOf(target)];
      const attachment = attachBtfProgram(ext.program('new_verdict'));
      expect(attachment.kind).to.equal('tracing');
      expect(attachment.via).to.equal('link');
      runs.push(verdictOf(target));
      attachment.close();
      runs.push(verdictOf(target));
      expect(runs).to.deep.equal([XDP_PASS, XDP_DROP, XDP_PASS]);
      expect(runs).to.deep.equal(theirs.runs);
      // the kernel let go of the load's target with the first link: a second names it again
      expect(() => attachBtfProgram(ext!.program('new_verdict'))).to.throw(LoadError, 'name the target (options.freplaceTarget)');
      const again = attachBtfProgram(ext.program('new_verdict'), { freplaceTarget: target.program('xdp_target') });
      expect(verdictOf(target)).to.equal(XDP_DROP);
      again.close();
      expect(verdictOf(target)).to.equal(XDP_PASS);
    } finally {
      ext.close();
    }
  });

  it('refuses, before loading it, an extension without a target, of a static function, of a missing one, of a program without BTF', async () => {
    const noBtf = await loadBpfFile(join(repoRoot, 'fixtures', 'xdp1_kern.o'));
    const other = await loadBpfFile(join(MODERN, 'tcx.bpf.o'));
    try {
      const cases: { select: string; targets?: Record<string, unknown>; code: string; message: string }[] = [
        {
          select: 'new_verdict', code: 'BPF_LOAD_ARGUMENT',
          message: "an freplace program replaces 'verdict' of another loaded program, and no target program was given for it",
        },
        {
          select: 'new_clamp', targets: { new_clamp: target.program('xdp_target') }, code: 'BPF_LOAD_INPUT',
          message: "'clamp' of program 'xdp_target' (id ",
        },
        {
          select: 'new_verdict', targets: { new_verdict: other.programs[0]! }, code: 'BPF_LOAD_INPUT',
          message: "has no function 'verdict' in its BTF",
        },
        {
          select: 'new_verdict', targets: { 'freplace/verdict': noBtf.programs[0]! }, code: 'BPF_LOAD_INPUT',
          message: 'has no BTF, and an extension needs its functions\' BTF (build it with clang -g)',
        },
        { select: 'new_verdict', targets: { new_verdict: '/sys/fs/bpf/no/such/pin' }, code: 'BPF_LOAD_ARGUMENT', message: 'cannot open the freplace target (pin /sys/fs/bpf/no/such/pin)' },
        { select: 'new_verdict', targets: { new_verdict: { id: 0x7ffffff0 } }, code: 'BPF_LOAD_ARGUMENT', message: 'cannot open the freplace target (program id 2147483632)' },
      ];
      for (const c of cases) {
        const { loads, error } = await recordingExtLoads(() =>
          loadBpfFile(EXT, { programs: { select: [c.select], ...(c.targets ? { freplaceTargets: c.targets as never } : {}) } }));
        expect(loads, c.message).to.deep.equal([]);
        expect(error, c.message).to.be.instanceOf(LoadError);
        expect((error as LoadError).code, (error as Error).message).to.equal(c.code);
        expect((error as Error).message).to.contain(c.message);
      }
    } finally {
      noBtf.close();
      other.close();
    }
  });

  it('a bad freplaceTargets option is an argument error', async () => {
    for (const bad of [{ new_verdict: -1 }, { new_verdict: '' }, { new_verdict: { name: 'x' } }, ['x']]) {
      let error: unknown;
      try {
        (await loadBpfFile(EXT, { programs: { select: ['new_verdict'], freplaceTargets: bad as never } })).close();
      } catch (e) {
        error = e;
      }
      expect(error, JSON.stringify(bad)).to.be.instanceOf(LoadError);
      expect((error as LoadError).code).to.equal('BPF_LOAD_ARGUMENT');
      expect((error as Error).message).to.contain('options.programs.freplaceTargets');
    }
  });

  it('load-kern-object --freplace-target PROG=PIN and PROG=id:N, as a process: what libbpf does here; a malformed one is a usage error', () => {
    const theirs = libbpfOnThisKernel();
    const info = progGetInfo(target.program('xdp_target').fd);
    pins ??= freshPinRoot('freplace');
    const pin = join(pins, 'cli-target');
    objPin(target.program('xdp_target').fd, pin);
    for (const given of [pin, `id:${info.id}`]) {
      const run = spawnSync(process.execPath, [CLI, EXT, '--programs', 'new_verdict', '--freplace-target', `new_verdict=${given}`], { encoding: 'utf8' });
      if (theirs.ext_errno === 0) {
        expect(run.status, run.stderr).to.equal(0);
        expect(run.stdout).to.match(/new_verdict\s+ext/);
      } else {
        expect(run.status, run.stderr).to.equal(1);
        expect(run.stderr).to.contain('the kernel refused ext programs (freplace) before verification: EPERM');
      }
    }
    for (const [flag, message] of [
      ['new_verdict', "--freplace-target takes PROG=PIN or PROG=id:N, not 'new_verdict'"],
      ['new_verdict=id:x', "--freplace-target new_verdict: 'id:x' is no program id"],
    ] as const) {
      const run = spawnSync(process.execPath, [CLI, EXT, '--freplace-target', flag], { encoding: 'utf8' });
      expect(run.status, run.stderr).to.equal(2);
      expect(run.stderr).to.contain(message);
    }
  });
});
