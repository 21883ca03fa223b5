import { expect } from 'chai';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  loadBpfFile, loadBpfObject, LoadError, ProgramLoadError, parseObject, programOrder, u32, type BpfObject,
} from '../../loader/index.js';
import { BPF_CALL, BPF_LD_IMM64, BPF_PSEUDO_MAP_FD, INSN_SIZE, insnAt } from '../../elf/instructions.js';
import { BPF_PROG_LOAD, BPF_MAP_UPDATE_ELEM, PROG_LOAD_ATTEMPTS, errno, overrideBpfSyscall, progGetInfo } from '../../syscall/index.js';
import { runningKernelVersion } from '../../loader/load/loadPrograms.js';
import { fixturePath } from '../support/fixtures.js';
import { processFdCount, requireKernel } from '../support/kernel.js';
import { PUBLIC_API } from '../support/processes.js';
import { expectRejection } from '../support/rejections.js';

/** Fixtures whose every program the kernel accepts. */
const LOADABLE = [
  'sockex1_kern.o', 'xdp1_kern.o', 'syscount_kern.o', 'socket_count_kern.o', 'tracing_kern.o', 'kprobe_kern.o',
  'tailcall_kern.o', 'calls_kern.o', 'cgroup_skb_kern.o', 'static_maps_kern.o', 'map_def16_kern.o', 'map_def20_kern.o',
  'map_def24_kern.o', 'map_def28_kern.o', 'map_def32_zero_tail_kern.o', 'many_maps_kern.o', 'no_maps_kern.o',
  'prog_types_kern.o',
];

describe('kernel: programs are relocated, loaded and filled into prog_fd[]', function () {
  before(function () {
    requireKernel(this);
  });

  for (const file of LOADABLE) {
    it(`${file}: prog_fd[] in section order; the kernel holds each program with its type, name and map ids`, async () => {
      const object = await loadBpfFile(fixturePath(file));
      try {
        expect(object.prog_fd).to.have.length(Object.keys(object.spec.programs).length);
        for (const [i, spec] of programOrder(object.spec).entries()) {
          const program = object.programs[i]!;
          expect(program.fd).to.equal(object.prog_fd[i]);
          const info = progGetInfo(object.prog_fd[i]!);
          expect(info.type, spec.section).to.equal(spec.type);
          expect(info.name).to.equal(spec.name.slice(0, 15));
          expect(info.id).to.be.greaterThan(0);
          expect(program.insnCount).to.equal(spec.insns.byteLength / INSN_SIZE);
          // the maps the kernel says the program uses are exactly those its relocations name
          const expectedIds = new Set(spec.relocations.flatMap((r) => (r.kind === 'map' ? [object.map(r.map).id] : [])));
          expect(new Set(info.map_ids), spec.section).to.deep.equal(expectedIds);
        }
      } finally {
        object.close();
      }
    });
  }

  it('every fixture: the kernel holds each map reference where we put it, naming the map we meant (xlated)', async () => {
    for (const file of LOADABLE) {
      const object = await loadBpfFile(fixturePath(file));
      try {
        for (const program of object.programs) {
          const xlated = program.xlatedInsns();
          const theirs = Array.from({ length: xlated.byteLength / INSN_SIZE }, (_, i) => insnAt(xlated, i))
            .filter((insn) => insn.code === BPF_LD_IMM64 && insn.src === BPF_PSEUDO_MAP_FD)
            .map((insn) => insn.imm);
          const ours = object.spec.programs[program.name]!.relocations.flatMap((r) =>
            r.kind === 'map' ? [object.map(r.map).id] : [],
          );
          // the verifier rewrites context accesses and inlines helpers but keeps map loads in order; it
          // drops dead code (6.x knows an array lookup with a constant key is never NULL): a subsequence
          const where = `${file} sec '${program.section}': kernel ${theirs.join(',')}, ours ${ours.join(',')}`;
          let next = 0;
          for (const id of theirs) {
            next = ours.indexOf(id, next) + 1;
            expect(next, where).to.be.greaterThan(0);
          }
          expect(theirs.length > 0, where).to.equal(ours.length > 0);
        }
      } finally {
        object.close();
      }
    }
  });

  it('xlated instructions equal ours byte for byte, map references holding the map ids (calls_kern.o)', async () => {
    const object = await loadBpfFile(fixturePath('calls_kern.o'));
    try {
      for (const program of object.programs) {
        const ours = program.insns;
        const xlated = program.xlatedInsns();
        expect(xlated.byteLength, program.section).to.equal(ours.byteLength);
        const mapRefs = new Map(
          object.spec.programs[program.name]!.relocations.flatMap((r) => (r.kind === 'map' ? [[r.insn, r.map] as const] : [])),
        );
        for (let i = 0; i < ours.byteLength / INSN_SIZE; i++) {
          const mine = insnAt(ours, i);
          const theirs = insnAt(xlated, i);
          const where = `${program.section} insn ${i}`;
          if (mapRefs.has(i)) {
            // the kernel dumps a map reference as src_reg BPF_PSEUDO_MAP_FD and imm = map id
            expect(theirs, where).to.deep.include({ code: BPF_LD_IMM64, src: BPF_PSEUDO_MAP_FD, dst: mine.dst, imm: object.map(mapRefs.get(i)!).id });
            expect(mine.imm, where).to.equal(object.map(mapRefs.get(i)!).fd);
          } else if (mine.code === BPF_CALL) {
            // helper and subprogram calls hold kernel addresses / subprogram numbers once verified
            expect([theirs.code, theirs.src], where).to.deep.equal([mine.code, mine.src]);
          } else if (i > 0 && mapRefs.has(i - 1)) {
            expect(theirs.code, where).to.equal(0);
          } else {
            expect(Buffer.from(xlated.subarray(i * 8, i * 8 + 8)).toString('hex'), where).to.equal(
              Buffer.from(ours.subarray(i * 8, i * 8 + 8)).toString('hex'),
            );
          }
        }
      }
    } finally {
      object.close();
    }
  });

  it('static maps reach the right maps in the kernel (bpf_load.c pointed both at map #0)', async () => {
    const object = await loadBpfFile(fixturePath('static_maps_kern.o'));
    try {
      const xlated = object.programs[0]!.xlatedInsns();
      const ids = Array.from({ length: xlated.byteLength / INSN_SIZE }, (_, i) => insnAt(xlated, i))
        .filter((insn) => insn.code === BPF_LD_IMM64 && insn.src === BPF_PSEUDO_MAP_FD)
        .map((insn) => insn.imm);
      // the update (first reference) goes to 'second', the lookup to 'first'
      expect(ids).to.deep.equal([object.map('second').id, object.map('first').id]);
      expect(object.programs[0]!.mapIds).to.have.members([object.map('first').id, object.map('second').id]);
    } finally {
      object.close();
    }
  });

  it('tail calls: socket/N programs sit in slot N of the PROG_ARRAY', async () => {
    const object = await loadBpfFile(fixturePath('tailcall_kern.o'));
    try {
      const slots = object.map('jmp_table').typed(u32, u32);
      expect(slots.lookup(3)).to.equal(object.program('odd').id);
      expect(slots.lookup(0)).to.equal(object.program('even').id);
      expect(slots.lookup(1)).to.equal(undefined);
      expect(object.program('odd').tailCallIndex).to.equal(3);
    } finally {
      object.close();
    }
  });

  it('a program the verifier refuses: ProgramLoadError with section, errno, log tail; everything closed', async () => {
    const before = processFdCount();
    const error = await expectRejection(loadBpfFile(fixturePath('verifier_reject_kern.o')));
    expect(error).to.be.instanceOf(ProgramLoadError).and.instanceOf(LoadError);
    const refused = error as ProgramLoadError;
    expect(refused.section).to.equal('socket_unchecked');
    expect(refused.program).to.equal('unchecked_lookup');
    expect(refused.errnoName).to.equal('EACCES');
    expect(refused.code).to.equal('BPF_LOAD_PROG');
    expect(refused.message).to.match(/verifier_reject_kern\.o: sec 'socket_unchecked': prog 'unchecked_lookup': failed to load program \(socket_filter, 9 insns\): BPF_PROG_LOAD: EACCES/);
    // a short tail in the message, the whole log on .verifierLog
    expect(refused.message).to.match(/verifier log \(last 3 of \d+ lines; all of it on \.verifierLog\):\n/);
    expect(refused.message.split('\n')).to.have.length(5);
    expect(refused.message).to.match(/invalid mem access 'map_value_or_null'/);
    expect(refused.verifierLog).to.match(/processed \d+ insns/);
    // the map and the program loaded before it are gone
    expect(processFdCount()).to.equal(before);
  });

  it('no license section and a GPL-only helper: the error says the license section is missing', async () => {
    const error = (await expectRejection(loadBpfFile(fixturePath('no_license_kern.o')))) as ProgramLoadError;
    expect(error).to.be.instanceOf(ProgramLoadError);
    expect(error.errnoName).to.equal('EINVAL');
    expect(error.hint).to.match(/no license section/);
    expect(error.verifierLog).to.match(/GPL/);
  });

  it('BPF_PROG_LOAD that says EAGAIN (a signal was pending) is tried again, up to 5 times a call, as libbpf does', async () => {
    for (const eagains of [PROG_LOAD_ATTEMPTS - 1, Infinity]) {
      let refused = 0;
      const restore = overrideBpfSyscall((cmd, attr, size, real) => {
        if (cmd === BPF_PROG_LOAD && refused < eagains) {
          refused++;
          return -errno.EAGAIN;
        }
        return real(cmd, attr, size);
      });
      try {
        if (eagains === Infinity) {
          const error = await expectRejection(loadBpfFile(fixturePath('socket_count_kern.o')));
          expect((error as LoadError).errnoName).to.equal('EAGAIN');
          // each BPF_PROG_LOAD the loader makes (without, then with a log) is tried exactly that often
          expect(refused % PROG_LOAD_ATTEMPTS).to.equal(0);
        } else {
          (await loadBpfFile(fixturePath('socket_count_kern.o'))).close();
          expect(refused).to.equal(eagains);
        }
      } finally {
        restore();
      }
    }
  });

  it('kern_version: the version section, else options.kernVersion, else the running kernel; the license reaches the kernel', async () => {
    const versions: number[] = [];
    const restore = overrideBpfSyscall((cmd, attr, size, real) => {
      if (cmd === BPF_PROG_LOAD) versions.push(attr.readUInt32LE(40)); // union bpf_attr: kern_version
      return real(cmd, attr, size);
    });
    try {
      (await loadBpfFile(fixturePath('kprobe_kern.o'), { kernVersion: 0x050a00 })).close(); // version section: 0
      (await loadBpfFile(fixturePath('socket_count_kern.o'))).close(); // none
      const object = await loadBpfFile(fixturePath('socket_count_kern.o'), { kernVersion: 0x050a11 });
      try {
        // license "GPL" from the section: the kernel lets the program call GPL-only helpers
        expect(object.programs[0]!.info.gpl_compatible).to.equal(true);
      } finally {
        object.close();
      }
    } finally {
      restore();
    }
    expect(versions).to.deep.equal([0, 0, 0, runningKernelVersion(), 0x050a11]);
  });

  it('a verifier log that does not fit (ENOSPC) is retried with a buffer 4x larger, on refusal and with logLevel', async () => {
    const logSizes: number[] = [];
    const restore = overrideBpfSyscall((cmd, attr, size, real) => {
      if (cmd !== BPF_PROG_LOAD) return real(cmd, attr, size);
      const logSize = attr.readUInt32LE(28); // union bpf_attr: log_size
      logSizes.push(logSize);
      return logSize === 256 * 1024 ? -28 /* ENOSPC */ : real(cmd, attr, size);
    });
    let error: Error;
    try {
      error = await expectRejection(loadBpfFile(fixturePath('verifier_reject_kern.o'), { programs: ['unchecked_lookup'] }));
      const object = await loadBpfFile(fixturePath('socket_count_kern.o'), { logLevel: 1 });
      try {
        expect(object.programs[0]!.verifierLog).to.match(/processed \d+ insns/);
      } finally {
        object.close();
      }
    } finally {
      restore();
    }
    // refused: first without a log, then the log; with logLevel: the log from the start
    expect(logSizes).to.deep.equal([0, 256 * 1024, 1024 * 1024, 256 * 1024, 1024 * 1024]);
    expect(error).to.be.instanceOf(ProgramLoadError);
    expect((error as ProgramLoadError).errnoName).to.equal('EACCES');
    expect((error as ProgramLoadError).verifierLog).to.match(/invalid mem access/);
  });

  it('options.logLevel keeps the verifier log of a successful load', async () => {
    const object = await loadBpfFile(fixturePath('socket_count_kern.o'), { logLevel: 1 });
    try {
      expect(object.programs[0]!.verifierLog).to.match(/processed \d+ insns/);
    } finally {
      object.close();
    }
    const quiet = await loadBpfFile(fixturePath('socket_count_kern.o'));
    expect(quiet.programs[0]!.verifierLog).to.equal(undefined);
    quiet.close();
  });

  it('options.programs loads only the programs named (and refuses a name the object lacks)', async () => {
    const object = await loadBpfFile(fixturePath('verifier_reject_kern.o'), { programs: ['fine'] });
    try {
      expect(object.programs.map((p) => p.section)).to.deep.equal(['socket']);
      expect(object.prog_fd).to.have.length(1);
    } finally {
      object.close();
    }
    const before = processFdCount();
    const error = await expectRejection(loadBpfFile(fixturePath('tracing_kern.o'), { programs: ['nope'] }));
    expect(error).to.be.instanceOf(LoadError);
    expect(error.message).to.match(/options.programs names 'nope'.*programs: on_getuid \(sec 'tracepoint\/syscalls\/sys_enter_getuid'\)/);
    expect(processFdCount()).to.equal(before);
  });

  it('options.onWarning hears about skipped sections', async () => {
    const warnings: string[] = [];
    const object = await loadBpfFile(fixturePath('verifier_reject_kern.o'), {
      programs: (p) => p.name === 'fine',
      onWarning: (message) => warnings.push(message),
    });
    object.close();
    expect(warnings.join('\n')).to.match(/not_a_program_type/);
  });

  it('kprobe programs load (type kprobe, version section honoured) even where kprobes cannot be attached', async () => {
    const object = await loadBpfFile(fixturePath('kprobe_kern.o'));
    try {
      expect(object.programs.map((p) => p.info.type)).to.deep.equal([2, 2, 2]);
      expect(object.map('jmp_table').typed(u32, u32).lookup(1)).to.equal(object.program('open_slot1').id);
    } finally {
      object.close();
    }
  });

  it('a failing BPF_PROG_LOAD midway closes the maps and programs made before it', async () => {
    const before = processFdCount();
    let loads = 0;
    const restore = overrideBpfSyscall((cmd, attr, size, real) => {
      if (cmd === BPF_PROG_LOAD && ++loads >= 2) return -1; // EPERM from the second program on (its log retry too)
      return real(cmd, attr, size);
    });
    let error: Error;
    try {
      error = await expectRejection(loadBpfFile(fixturePath('tracing_kern.o')));
    } finally {
      restore();
    }
    expect(error).to.be.instanceOf(ProgramLoadError);
    expect(error.message).to.match(/sec 'raw_tracepoint\/sys_enter': prog 'on_sys_enter'.*BPF_PROG_LOAD: EPERM/);
    expect(processFdCount()).to.equal(before);
  });

  it('a tail-call slot the kernel refuses closes everything and names the slot', async () => {
    const before = processFdCount();
    const restore = overrideBpfSyscall((cmd, attr, size, real) => (cmd === BPF_MAP_UPDATE_ELEM ? -7 /* E2BIG */ : real(cmd, attr, size)));
    let error: Error;
    try {
      error = await expectRejection(loadBpfFile(fixturePath('tailcall_kern.o')));
    } finally {
      restore();
    }
    expect(error).to.be.instanceOf(LoadError);
    expect(error.message).to.match(/sec 'socket\/3': prog 'odd': cannot put the program in slot 3 of PROG_ARRAY map 'jmp_table'.*E2BIG/);
    expect(processFdCount()).to.equal(before);
  });

  it('loads under a sampling profiler: its SIGPROF every 20 µs no longer makes the verifier give up (EAGAIN)', function () {
    this.timeout(120_000);
    const dir = mkdtempSync(join(tmpdir(), 'bpf-load-cpu-prof-'));
    try {
      const script = join(dir, 'load.mjs');
      // 18 programs of several types, loaded 300 times: before signals were blocked over BPF_PROG_LOAD, every run failed
      writeFileSync(script, `import { loadBpfFileSync } from ${JSON.stringify(PUBLIC_API)};
        for (let i = 0; i < 300; i++) loadBpfFileSync(${JSON.stringify(fixturePath('prog_types_kern.o'))}).close();
        console.log('loaded');`);
      const child = spawnSync(process.execPath, ['--cpu-prof', '--cpu-prof-interval', '20', '--cpu-prof-dir', dir, script], {
        encoding: 'utf8', timeout: 100_000,
      });
      expect(child.stderr).to.not.match(/EAGAIN/);
      expect([child.status, child.stdout.trim()], child.stderr).to.deep.equal([0, 'loaded']);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('a relocation naming a map the spec does not have is refused before any system call, naming both', () => {
    const spec = parseObject(readFileSync(fixturePath('static_maps_kern.o')), { file: 'static_maps_kern.o' });
    const relocation = programOrder(spec)[0]!.relocations[1]!;
    if (relocation.kind === 'map') relocation.map = 'gone';
    const before = processFdCount();
    let error: unknown;
    try {
      loadBpfObject(spec);
    } catch (e) {
      error = e;
    }
    expect(error).to.be.instanceOf(LoadError);
    expect((error as LoadError).code).to.equal('BPF_LOAD_ARGUMENT');
    expect((error as Error).message).to.match(/sec 'socket': prog 'prog': insn \d+ refers to map 'gone', which is no map of this spec \(maps: first, second\)/);
    expect(processFdCount()).to.equal(before);
  });

  it('close() closes program fds too; Symbol.dispose does the same', async () => {
    const before = processFdCount();
    const object: BpfObject = await loadBpfFile(fixturePath('tailcall_kern.o'));
    expect(processFdCount()).to.equal(before + 2 + 3);
    object[Symbol.dispose]();
    expect(processFdCount()).to.equal(before);
  });
});
