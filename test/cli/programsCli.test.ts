import { expect } from 'chai';
import { EXIT_KERNEL, EXIT_OK, EXIT_USAGE, main } from '../../loader/cli/main.js';
import { progGetFdById, progGetInfo } from '../../syscall/index.js';
import { fixturePath } from '../support/fixtures.js';
import { processFdCount, requireKernel, requireTracefs } from '../support/kernel.js';
import { captureIo } from '../support/captureIo.js';
import { kprobeSupport } from '../../loader/index.js';

interface ProgramJson {
  index: number;
  section: string;
  name: string;
  type: string;
  insns: number;
  fd?: number;
  id?: number;
  tail_call?: number;
  relocations?: { insn: number; kind: string; relocation: string; symbol: string; map?: number; map_name?: string; target?: string }[];
}

describe('cli: programs', () => {
  it('--dry-run lists programs and their relocations without any syscall', async () => {
    const io = captureIo();
    expect(await main(['--dry-run', fixturePath('static_maps_kern.o')], io)).to.equal(EXIT_OK);
    expect(io.stdout).to.match(/programs \(1\):\n#\s+section\s+name\s+type\s+insns\n0\s+socket\s+prog\s+socket_filter\s+20\n/);
    expect(io.stdout).to.include("insn 7: R_BPF_64_64 'maps+28' -> map #1 'second'");
    expect(io.stdout).to.include("insn 12: R_BPF_64_64 'maps+0' -> map #0 'first'");
  });

  it('--dry-run --json: programs with relocations, calls included', async () => {
    const io = captureIo();
    expect(await main(['--dry-run', '--json', fixturePath('calls_kern.o')], io)).to.equal(EXIT_OK);
    const programs = (JSON.parse(io.stdout) as { programs: ProgramJson[] }).programs;
    expect(programs.map((p) => [p.section, p.name, p.type, p.insns])).to.deep.equal([
      ['socket/calls1', 'first', 'socket_filter', 29],
      ['socket/calls2', 'second', 'socket_filter', 41],
    ]);
    expect(programs[0]!.relocations).to.deep.include({ insn: 3, kind: 'call', relocation: 'R_BPF_64_32', symbol: 'add_total', target: 'add_total' });
    expect(programs[0]!.relocations).to.deep.include({ insn: 24, kind: 'map', relocation: 'R_BPF_64_64', symbol: 'maps+28', map: 1, map_name: 'last_len' });
  });

  it('--log-level and --duration that are not what they say are usage errors (exit 2)', async () => {
    for (const args of [['--log-level', 'abc'], ['--log-level', '1.5'], ['--log-level', '9'], ['--attach', '--duration', 'soon'], ['--attach', '--duration', '-1']]) {
      const io = captureIo();
      expect(await main([fixturePath('socket_count_kern.o'), ...args], io), args.join(' ')).to.equal(EXIT_USAGE);
      expect(io.stderr).to.match(/^load-kern-object: (--(log-level|duration) must be |Invalid value for --(log-level|duration): not a number)/);
      expect(io.stdout).to.equal('');
    }
  });

  describe('with the kernel', function () {
    before(function () {
      requireKernel(this);
    });

    it('--json: each program with the fd it had and the kernel prog id', async () => {
      let seen: ProgramJson[] = [];
      const io = captureIo((text) => {
        // while the CLI still holds the programs, their ids are live
        seen = (JSON.parse(text) as { programs: ProgramJson[] }).programs;
        for (const program of seen) {
          const owner = progGetFdById(program.id!);
          expect(progGetInfo(owner.fd).name).to.equal(program.name.slice(0, 15));
          owner.close();
        }
      });
      const before = processFdCount();
      expect(await main(['--json', fixturePath('tailcall_kern.o')], io)).to.equal(EXIT_OK);
      expect(seen.map((p) => [p.section, p.tail_call])).to.deep.equal([
        ['socket', undefined],
        ['socket/3', 3],
        ['socket/0', 0],
      ]);
      expect(seen.every((p) => typeof p.fd === 'number' && (p.id ?? 0) > 0)).to.equal(true);
      expect(processFdCount()).to.equal(before);
    });

    it('--programs loads a subset; a refused program exits 1 with the verifier reason on one line', async () => {
      const io = captureIo();
      expect(await main([fixturePath('verifier_reject_kern.o'), '--programs', 'fine'], io)).to.equal(EXIT_OK);
      expect(io.stdout).to.match(/programs \(1\):/);
      const refused = captureIo();
      expect(await main([fixturePath('verifier_reject_kern.o')], refused)).to.equal(EXIT_KERNEL);
      expect(refused.stderr).to.match(/sec 'socket_unchecked': prog 'unchecked_lookup': failed to load program .*EACCES/);
      expect(refused.stderr).to.match(/invalid mem access/);
      expect(refused.stderr).to.match(/warning: .*not_a_program_type/);
      const errorLines = refused.stderr.split('\n').filter((line) => line !== '' && !line.startsWith('warning: '));
      expect(errorLines, refused.stderr).to.have.length(1);
      expect(errorLines[0]).to.match(/EACCES.*verifier: R0 invalid mem access 'map_value_or_null'/);
    });

    it('--verbose prints the whole verifier log of a refusal; --log-level alone prints those of successful loads', async () => {
      const refused = captureIo();
      expect(await main([fixturePath('verifier_reject_kern.o'), '--verbose'], refused)).to.equal(EXIT_KERNEL);
      // the log from its first instruction to the verifier's summary, not only the tail
      expect(refused.stderr).to.match(/^0: \(b7\) r1 = 0/m);
      expect(refused.stderr).to.match(/^processed \d+ insns/m);
      // once: the message's tail of the log is not printed again before the whole log
      expect(refused.stderr.match(/^processed \d+ insns/gm), refused.stderr).to.have.length(1);
      expect(refused.stderr).to.match(/^\s+at /m);
      const loaded = captureIo();
      expect(await main([fixturePath('socket_count_kern.o'), '--log-level', '1', '--verbose'], loaded)).to.equal(EXIT_OK);
      expect(loaded.stderr).to.match(/verifier log of count_packets[^]*processed \d+ insns/);
      const alone = captureIo();
      expect(await main([fixturePath('socket_count_kern.o'), '--log-level', '1'], alone)).to.equal(EXIT_OK);
      expect(alone.stderr).to.match(/verifier log of count_packets[^]*processed \d+ insns/);
      const quiet = captureIo();
      expect(await main([fixturePath('socket_count_kern.o')], quiet)).to.equal(EXIT_OK);
      expect(quiet.stderr).to.not.match(/processed/);
    });

    it('--attach on a kprobe: attached where the kernel has kprobes, else exit 1 (the kernel lacks it), one line, EOPNOTSUPP', async function () {
      const before = processFdCount();
      const io = captureIo();
      if (kprobeSupport().supported) {
        expect(await main([fixturePath('kprobe_kern.o'), '--attach', '--duration', '0'], io)).to.equal(EXIT_OK);
        expect(io.stdout).to.include('attached: on_open -> kprobe do_sys_openat2');
        expect(processFdCount()).to.equal(before);
        return;
      }
      expect(await main([fixturePath('kprobe_kern.o'), '--attach'], io)).to.equal(EXIT_KERNEL);
      expect(io.stderr.trim().split('\n'), io.stderr).to.have.length(1);
      expect(io.stderr).to.match(/attach kprobe to do_sys_openat2: this kernel has no kprobes/);
      expect(processFdCount()).to.equal(before);
    });

    it('--attach --duration: attaches the tracepoints, says so, detaches and exits', async function () {
      requireTracefs(this);
      const io = captureIo();
      const before = processFdCount();
      expect(await main([fixturePath('tracing_kern.o'), '--attach', '--duration', '0.2'], io)).to.equal(EXIT_OK);
      expect(io.stdout).to.include('attached: on_getuid -> tracepoint syscalls/sys_enter_getuid, on_sys_enter -> raw_tracepoint sys_enter');
      expect(processFdCount()).to.equal(before);
    });
  });
});
