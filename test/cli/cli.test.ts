import { expect } from 'chai';
import { execFileSync, spawnSync } from 'node:child_process';
import { chmodSync, closeSync, copyFileSync, mkdtempSync, openSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { EXIT_KERNEL, EXIT_OK, EXIT_USAGE, main } from '../../loader/cli/main.js';
import {
  BPF_MAP_CREATE, BPF_OBJ_GET_INFO_BY_FD, errno, mapGetFdById, mapGetInfo, mapTypeName, openBpfFdCount, overrideBpfSyscall,
} from '../../syscall/index.js';
import { EXPECTED_MAPS } from '../support/expectedMaps.js';
import { fixturePath } from '../support/fixtures.js';
import { fdinfo, processFdCount, requireFeature, requireKernel, requireRoot } from '../support/kernel.js';
import { captureIo } from '../support/captureIo.js';
import { runNodeUnprivileged, type Unprivileged } from '../support/processes.js';
import { packagedCopy, type PackagedCopy } from './packagedCopy.js';

interface TableRow {
  index: number;
  name: string;
  type: string;
  key: number;
  value: number;
  max: number;
  flags: number;
  fd?: number;
  id?: number;
}

/** The rows of the `maps (N):` table, by column header, so added columns or sections do not break the test. */
function parseMapTable(text: string): { headers: string[]; rows: TableRow[] } {
  const lines = text.split('\n');
  const start = lines.findIndex((l) => /^maps \(\d+\):$/.test(l));
  expect(start, `a 'maps (N):' table in:\n${text}`).to.be.greaterThan(-1);
  const count = Number(/\d+/.exec(lines[start]!)![0]);
  const headers = lines[start + 1]!.trim().split(/\s+/);
  const rows = lines.slice(start + 2, start + 2 + count).map((line) => {
    const cells = line.trim().split(/\s+/);
    const cell = (h: string) => cells[headers.indexOf(h)]!;
    const row: TableRow = {
      index: Number(cell('#')),
      name: cell('name'),
      type: cell('type'),
      key: Number(cell('key')),
      value: Number(cell('value')),
      max: Number(cell('max_entries')),
      flags: Number(cell('flags')),
    };
    if (headers.includes('fd')) row.fd = Number(cell('fd'));
    if (headers.includes('id')) row.id = Number(cell('id'));
    return row;
  });
  return { headers, rows };
}

/** What the kernel says about map `id`, through a fresh fd from BPF_MAP_GET_FD_BY_ID. */
function kernelMapById(id: number): { type: string; key: number; value: number; max: number; flags: number; name: string } {
  const owner = mapGetFdById(id);
  try {
    const info = mapGetInfo(owner.fd);
    return {
      type: mapTypeName(info.type),
      key: info.key_size,
      value: info.value_size,
      max: info.max_entries,
      flags: info.map_flags,
      name: info.name,
    };
  } finally {
    owner.close();
  }
}

function expectOneErrorLine(stderr: string, pattern: RegExp): void {
  const lines = stderr.trimEnd().split('\n');
  expect(lines, `one line on stderr:\n${stderr}`).to.have.length(1);
  expect(lines[0]).to.match(/^load-kern-object: /);
  expect(lines[0]).to.match(pattern);
}

const FIXTURE = 'map_def28_kern.o';

/** Run the CLI with bpf(2) replaced by `fake` (fault injection), restoring the real one whatever happens. */
async function mainWithFakeBpf(
  fake: Parameters<typeof overrideBpfSyscall>[0],
  argv: string[],
): Promise<{ status: number; io: ReturnType<typeof captureIo> }> {
  const restore = overrideBpfSyscall(fake);
  const io = captureIo();
  try {
    return { status: await main(argv, io), io };
  } finally {
    restore();
  }
}

describe('cli: load-kern-object', () => {
  describe('without the kernel', () => {
    it('--help explains the output, the options, the lifetime of the maps and the exit status', async () => {
      const io = captureIo();
      expect(await main(['--help'], io)).to.equal(EXIT_OK);
      for (const needle of [
        'load-kern-object FILE', '--json', '--dry-run', '--verbose', '--convention', 'map_fd[]', 'key_size', 'max_entries',
        'map_flags', 'kernel map id', 'needs no privileges', 'gone when the', 'command exits', 'Exit status: 0 loaded',
        '1 the kernel or the system refused', 'EPERM', '2 bad input file or bad usage',
      ]) {
        expect(io.stdout, `--help mentions '${needle}'`).to.include(needle);
      }
      expect(io.stderr).to.equal('');
    });

    it('--dry-run --convention tc shows the bpf_elf_map fields: pinning, id, inner_id, inner_idx', async () => {
      const io = captureIo();
      expect(await main(['--dry-run', '--convention', 'tc', fixturePath('tc_maps_kern.o')], io)).to.equal(EXIT_OK);
      const lines = io.stdout.split('\n');
      expect(lines[2]!.split(/\s+/)).to.deep.equal(
        ['#', 'name', 'type', 'key', 'value', 'max_entries', 'flags', 'pinning', 'tc_id', 'inner_id', 'inner_idx'],
      );
      expect(lines[3]!.split(/\s+/).slice(-4)).to.deep.equal(['global', '0', '0', '0']);
      expect(lines[6]!.split(/\s+/).slice(-4)).to.deep.equal(['none', '42', '0', '3']);
      const json = captureIo();
      expect(await main(['--dry-run', '--json', '--convention', 'tc', fixturePath('tc_maps_kern.o')], json)).to.equal(EXIT_OK);
      const maps = (JSON.parse(json.stdout) as { maps: { name: string; tc: unknown }[] }).maps;
      expect(maps.find((m) => m.name === 'tc_outer')!.tc).to.deep.equal({ id: 0, pinning: 2, inner_id: 42, inner_idx: 0 });
    });

    it('--dry-run prints the table without fd/id and makes no bpf(2) call at all', async () => {
      let calls = 0;
      const restore = overrideBpfSyscall((cmd, attr, size, real) => {
        calls++;
        return real(cmd, attr, size);
      });
      const io = captureIo();
      let status: number;
      try {
        status = await main(['--dry-run', fixturePath(FIXTURE)], io);
      } finally {
        restore();
      }
      expect(status, io.stderr).to.equal(EXIT_OK);
      expect(calls).to.equal(0);
      expect(io.stdout.split('\n')[0]).to.equal(`${fixturePath(FIXTURE)} (dry run: nothing loaded)`);
      const { headers, rows } = parseMapTable(io.stdout);
      expect(headers).to.deep.equal(['#', 'name', 'type', 'key', 'value', 'max_entries', 'flags']);
      // the spec's view: map-in-map value_size as written (0)
      expect(rows.map((r) => [r.index, r.name, r.type, r.key, r.value, r.max, r.flags])).to.deep.equal(
        EXPECTED_MAPS[FIXTURE]!.maps.map(([name, type, key, value, max, flags], i) => [
          i, name, mapTypeName(type), key, type === 12 || type === 13 ? 0 : value, max, flags,
        ]),
      );
    });

    it('--dry-run --json: one JSON object, maps with index, name, type, sizes, max_entries, flags, no fd/id', async () => {
      const io = captureIo();
      expect(await main(['--dry-run', '--json', fixturePath('map_def16_kern.o')], io)).to.equal(EXIT_OK);
      const parsed = JSON.parse(io.stdout) as { maps: Record<string, unknown>[]; dry_run: boolean; license: string };
      expect(parsed.dry_run).to.equal(true);
      expect(parsed.license).to.equal('GPL');
      expect(parsed.maps).to.have.length(3);
      expect(parsed.maps[1]).to.include({ index: 1, name: 'flows', type: 'hash', key_size: 8, value_size: 16, max_entries: 1024, map_flags: 0 });
      for (const map of parsed.maps) expect(map).to.not.have.any.keys('fd', 'id');
    });

    it('--dry-run lists a big-endian object, which a real load refuses as bad input (exit 2)', async () => {
      const dry = captureIo();
      expect(await main(['--dry-run', fixturePath('bigendian_bpfeb.o')], dry)).to.equal(EXIT_OK);
      expect(parseMapTable(dry.stdout).rows.map((r) => r.name)).to.deep.equal(['be_counters', 'be_flows']);
      const real = captureIo();
      expect(await main([fixturePath('bigendian_bpfeb.o')], real)).to.equal(EXIT_USAGE);
      expectOneErrorLine(real.stderr, /bigendian_bpfeb\.o: object is big-endian but this machine is little-endian/);
      expect(real.stdout).to.equal('');
    });

    it('usage errors: exit 2 and one line on stderr', async () => {
      for (const [argv, pattern] of [
        [[], /Not enough non-option arguments/],
        [['--bogus', fixturePath(FIXTURE)], /Unknown argument: bogus/],
        [['--convention', 'xdp', fixturePath(FIXTURE)], /Invalid values: Argument: convention, Given: "xdp"/],
      ] as const) {
        const io = captureIo();
        expect(await main([...argv], io), `argv ${argv.join(' ')}`).to.equal(EXIT_USAGE);
        expectOneErrorLine(io.stderr, pattern);
        expect(io.stdout).to.equal('');
      }
    });

    it('output that cannot be written (stdout on /dev/full): exit 1 and one line, not a crash', () => {
      const cliUrl = new URL('../../loader/cli/main.js', import.meta.url).href;
      const script = `const { main } = await import(${JSON.stringify(cliUrl)}); process.exitCode = await main(process.argv.slice(1));`;
      const full = openSync('/dev/full', 'w');
      try {
        const child = spawnSync(process.execPath, ['--input-type=module', '-e', script, '--', '--dry-run', fixturePath(FIXTURE)], {
          stdio: ['ignore', full, 'pipe'],
          encoding: 'utf8',
          timeout: 30_000,
        });
        expect(child.status, child.stderr).to.equal(EXIT_KERNEL);
        expectOneErrorLine(child.stderr, /cannot write the output: ENOSPC/);
      } finally {
        closeSync(full);
      }
    });

    it('bad input files: exit 2, one line naming the file and the fault, the stack only with --verbose', async () => {
      const dir = mkdtempSync(join(tmpdir(), 'bpf-load-cli-'));
      try {
        const truncated = join(dir, 'truncated_kern.o');
        writeFileSync(truncated, readFileSync(fixturePath(FIXTURE)).subarray(0, 500));
        const fifo = join(dir, 'fifo_kern.o');
        execFileSync('mkfifo', [fifo]);
        // sparse: no disk used; refused from its size, before a byte is read
        const huge = join(dir, 'huge_kern.o');
        execFileSync('truncate', ['-s', '3G', huge]);
        // larger than any object too, but not by Node's 2 GiB read limit; and a big file without the ELF magic
        const big = join(dir, 'big_kern.o');
        execFileSync('truncate', ['-s', '1900M', big]);
        const notElf = join(dir, 'not_elf_kern.o');
        execFileSync('truncate', ['-s', '100M', notElf]);
        for (const [file, pattern] of [
          [fixturePath('x86_64_object.o'), /x86_64_object\.o: ELF machine is x86-64 \(e_machine 62\), not BPF/],
          [join(dir, 'missing_kern.o'), /missing_kern\.o: cannot read object: ENOENT/],
          [truncated, /truncated_kern\.o: section header table at offset \d+ .* past the end of 500 bytes/],
          [fixturePath('invalid_nonzero_tail_kern.o'), /map 'tail_set': definition is 32 bytes/],
          // reading these would never end (or block for a writer): refused before the read
          ['/dev/zero', /\/dev\/zero: cannot read object: it is a character device, not an object file/],
          [fifo, /cannot read object: it is a FIFO, not an object file/],
          [dir, /cannot read object: it is a directory, not an object file/],
          [huge, /huge_kern\.o: cannot read object: it is 3072 MiB, more than the 256 MiB any BPF object needs/],
          [big, /big_kern\.o: cannot read object: it is 1900 MiB, more than the 256 MiB any BPF object needs/],
          [notElf, /not_elf_kern\.o: not an ELF file \(no \\x7fELF magic\)/],
        ] as const) {
          for (const dryRun of [[], ['--dry-run']]) {
            const io = captureIo();
            expect(await main([...dryRun, file], io), file).to.equal(EXIT_USAGE);
            expectOneErrorLine(io.stderr, pattern);
            expect(io.stdout).to.equal('');
          }
          const verbose = captureIo();
          expect(await main(['--verbose', file], verbose)).to.equal(EXIT_USAGE);
          expect(verbose.stderr).to.match(pattern);
          expect(verbose.stderr, 'the stack with --verbose').to.match(/\n\s+at /);
        }
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    });
  });

  describe('against the kernel', () => {
    before(function () {
      requireKernel(this);
    });

    it('the table: every map with the fd it held and a kernel map id the kernel agrees with', async () => {
      const seen: { row: TableRow; kernel: ReturnType<typeof kernelMapById>; fdMapId: number }[] = [];
      const io = captureIo((text) => {
        // the CLI still holds the maps while it prints: ask the kernel about each id now
        for (const row of parseMapTable(text).rows) {
          seen.push({ row, kernel: kernelMapById(row.id!), fdMapId: Number(fdinfo(row.fd!)['map_id']) });
        }
      });
      const bpfFds = openBpfFdCount();
      const processFds = processFdCount();
      expect(await main([fixturePath(FIXTURE)], io), io.stderr).to.equal(EXIT_OK);
      expect(io.stderr).to.equal('');
      expect(io.stdout.split('\n')[0]).to.equal(fixturePath(FIXTURE));
      expect(parseMapTable(io.stdout).headers).to.deep.equal(['#', 'name', 'type', 'key', 'value', 'max_entries', 'flags', 'fd', 'id']);
      const expected = EXPECTED_MAPS[FIXTURE]!.maps;
      expect(seen).to.have.length(expected.length);
      for (const [i, [name, type, key, value, max, flags]] of expected.entries()) {
        const { row, kernel, fdMapId } = seen[i]!;
        expect([row.index, row.name, row.type, row.key, row.value, row.max, row.flags]).to.deep.equal(
          [i, name, mapTypeName(type), key, value, max, flags],
        );
        expect(kernel).to.deep.equal({ type: mapTypeName(type), key, value, max, flags, name: name.slice(0, 15) });
        expect(fdMapId, `fd ${row.fd} is map id ${row.id}`).to.equal(row.id);
      }
      expect(new Set(seen.map((s) => s.row.id)).size).to.equal(expected.length);
      // the CLI closed everything it opened before returning
      expect(openBpfFdCount()).to.equal(bpfFds);
      expect(processFdCount()).to.equal(processFds);
    });

    it('--json: maps with index, name, type, sizes, max_entries, map_flags, fd and id, all as the kernel has them', async () => {
      const checked: boolean[] = [];
      const io = captureIo((text) => {
        const parsed = JSON.parse(text) as { file: string; maps: Record<string, number | string>[] };
        expect(parsed.file).to.equal(fixturePath(FIXTURE));
        for (const map of parsed.maps) {
          expect(map).to.include.all.keys('index', 'name', 'type', 'key_size', 'value_size', 'max_entries', 'map_flags', 'fd', 'id');
          const kernel = kernelMapById(map['id'] as number);
          expect(kernel).to.deep.include({
            type: map['type'],
            key: map['key_size'],
            value: map['value_size'],
            max: map['max_entries'],
            flags: map['map_flags'],
          });
          expect(Number(fdinfo(map['fd'] as number)['map_id'])).to.equal(map['id']);
          checked.push(true);
        }
      });
      expect(await main(['--json', fixturePath(FIXTURE)], io), io.stderr).to.equal(EXIT_OK);
      expect(checked).to.have.length(EXPECTED_MAPS[FIXTURE]!.maps.length);
      const parsed = JSON.parse(io.stdout) as { maps: { index: number; name: string }[] };
      expect(parsed.maps.map((m) => [m.index, m.name])).to.deep.equal(EXPECTED_MAPS[FIXTURE]!.maps.map(([n], i) => [i, n]));
    });

    it('a verifier refusal: exit 1, one line with the program and the verifier\'s reason; the log with --verbose', async () => {
      const io = captureIo();
      expect(await main([fixturePath('verifier_reject_kern.o')], io)).to.equal(EXIT_KERNEL);
      expectOneErrorLine(
        io.stderr.replace(/^warning: .*\n/gm, ''),
        /verifier_reject_kern\.o: sec 'socket_unchecked': prog 'unchecked_lookup': .*BPF_PROG_LOAD: EACCES.*: verifier: .*invalid mem access 'map_value_or_null' \(--verbose for the whole verifier log\)$/,
      );
      const verbose = captureIo();
      expect(await main(['--verbose', fixturePath('verifier_reject_kern.o')], verbose)).to.equal(EXIT_KERNEL);
      expect(verbose.stderr).to.match(/-- BEGIN PROG LOAD LOG --\n[\s\S]*invalid mem access[\s\S]*-- END PROG LOAD LOG --/);
    });

    it('when the kernel\'s view cannot be read back (BPF_OBJ_GET_INFO_BY_FD fails): exit 1, one line, nothing left open', async () => {
      const bpfFds = openBpfFdCount();
      const processFds = processFdCount();
      const { status, io } = await mainWithFakeBpf(
        (cmd, attr, size, real) => (cmd === BPF_OBJ_GET_INFO_BY_FD ? -errno.EACCES : real(cmd, attr, size)),
        [fixturePath(FIXTURE)],
      );
      expect(status).to.equal(EXIT_KERNEL);
      expectOneErrorLine(io.stderr, /map_def28_kern\.o: loaded, but cannot read back the maps the kernel made: BPF_OBJ_GET_INFO_BY_FD: EACCES/);
      expect(io.stdout).to.equal('');
      expect(openBpfFdCount()).to.equal(bpfFds);
      expect(processFdCount()).to.equal(processFds);
    });

    it('a kernel refusal: exit 1, one line with the map, the errno and what to do', async () => {
      let creates = 0;
      const bpfFds = openBpfFdCount();
      const processFds = processFdCount();
      const { status, io } = await mainWithFakeBpf(
        (cmd, attr, size, real) => (cmd === BPF_MAP_CREATE && creates++ === 3 ? -errno.EPERM : real(cmd, attr, size)),
        [fixturePath(FIXTURE)],
      );
      expect(status).to.equal(EXIT_KERNEL);
      expectOneErrorLine(
        io.stderr,
        /map_def28_kern\.o: sec 'maps': map 'hash_of_maps' \(#2\): failed to create map \(.*\): BPF_MAP_CREATE: EPERM \(needs root or CAP_BPF/,
      );
      expect(io.stdout).to.equal('');
      expect(openBpfFdCount()).to.equal(bpfFds);
      expect(processFdCount()).to.equal(processFds);
    });
  });

  describe('as an unprivileged user (uid 65534, or root without capabilities), in a child process', () => {
    let dir: string;
    let object: string;
    /**
     * The CLI of a copy of the built package in /tmp (packagedCopy): the checkout may be where
     * nobody may read (a 0700 home, a mktemp -d).
     */
    let copy: PackagedCopy | undefined;

    /**
     * How to run a child without privileges: as uid/gid 65534 when that user can read the
     * checkout, else (a checkout under a private directory, e.g. /root) as root with every
     * capability dropped by setpriv, which bpf(2) refuses just the same.
     */
    let unprivileged: Unprivileged;

    before(function () {
      requireRoot(this);
      copy = packagedCopy();
      const probeArgs = [copy.cli, '--version'];
      const candidates: Unprivileged[] = ['nobody', 'no-capabilities'];
      const reasons: string[] = [];
      for (const candidate of candidates) {
        unprivileged = candidate;
        const probe = runNodeUnprivileged(candidate, probeArgs, { cwd: '/' });
        if (probe.status === 0) break;
        reasons.push(`${candidate}: ${(probe.stderr || String(probe.error)).split('\n')[0]}`);
      }
      requireFeature(this, 'an unprivileged user', reasons.length === candidates.length
        ? `cannot run ${copy.cli} unprivileged (${reasons.join('; ')})`
        : undefined);
      dir = mkdtempSync(join(tmpdir(), 'bpf-load-unpriv-'));
      chmodSync(dir, 0o755);
      object = join(dir, FIXTURE);
      copyFileSync(fixturePath(FIXTURE), object);
      chmodSync(object, 0o644);
    });

    after(() => {
      if (dir) rmSync(dir, { recursive: true, force: true });
      copy?.remove();
    });

    function runAsNobody(args: string[]): { status: number | null; stdout: string; stderr: string } {
      const child = runNodeUnprivileged(unprivileged, [copy!.cli, ...args], {
        cwd: dir,
        env: { PATH: process.env['PATH'] ?? '/usr/bin:/bin', HOME: dir },
      });
      if (child.error) throw child.error;
      return { status: child.status, stdout: child.stdout, stderr: child.stderr };
    }

    it('--dry-run works: exit 0, the table, nothing on stderr', () => {
      const run = runAsNobody(['--dry-run', FIXTURE]);
      expect(run.stderr).to.equal('');
      expect(run.status).to.equal(EXIT_OK);
      expect(parseMapTable(run.stdout).rows.map((r) => r.name)).to.deep.equal(EXPECTED_MAPS[FIXTURE]!.maps.map(([n]) => n));
    });

    it('a real load exits 1 with one line saying EPERM and what to do', function () {
      const disabled = readFileSync('/proc/sys/kernel/unprivileged_bpf_disabled', 'utf8').trim();
      // with 0, unprivileged users may create some maps: the outcome depends on the map types, not on us
      requireFeature(this, 'unprivileged bpf(2) disabled', disabled === '0' ? 'kernel.unprivileged_bpf_disabled is 0 on this machine' : undefined);
      const run = runAsNobody([FIXTURE]);
      expect(run.status, run.stderr).to.equal(EXIT_KERNEL);
      expectOneErrorLine(run.stderr, /map_def28_kern\.o: sec 'maps': map 'inner_array' \(#0\): .*BPF_MAP_CREATE: EPERM \(needs root or CAP_BPF/);
      expect(run.stdout).to.equal('');
    });

    it('the package\'s bin (its bundle) behaves the same', () => {
      const bin = copy!.cli;
      const child = runNodeUnprivileged(unprivileged, [bin, '--dry-run', '--json', FIXTURE], { cwd: dir });
      expect(child.status, child.stderr).to.equal(EXIT_OK);
      const parsed = JSON.parse(child.stdout) as { maps: unknown[] };
      expect(parsed.maps).to.have.length(EXPECTED_MAPS[FIXTURE]!.maps.length);
      const refused = runNodeUnprivileged(unprivileged, [bin, 'no_such_kern.o'], { cwd: dir });
      expect(refused.status).to.equal(EXIT_USAGE);
      expectOneErrorLine(refused.stderr, /no_such_kern\.o: cannot read object: ENOENT/);
    });
  });
});
