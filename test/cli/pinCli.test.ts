import { expect } from 'chai';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { main, type CliIo } from '../../loader/cli/main.js';
import { possibleCpus } from '../../loader/maps/perCpu.js';
import { openPinnedMap, u32 } from '../../loader/index.js';
import { freshPinRoot, listTree, removePinRoot } from '../support/bpffs.js';
import { bpftoolJson, bpftoolRun, type BpftoolMapShow } from '../support/bpftool.js';
import { fixturePath } from '../support/fixtures.js';
import { requireKernel } from '../support/kernel.js';

async function run(...argv: string[]): Promise<{ status: number; out: string; err: string }> {
  let out = '';
  let err = '';
  const io: CliIo = { out: (text) => (out += `${text}\n`), err: (text) => (err += `${text}\n`) };
  const status = await main(argv, io);
  return { status, out, err };
}

describe('cli: --pin, dump and unpin', function () {
  let root: string | undefined;
  before(function () {
    requireKernel(this);
  });
  beforeEach(function () {
    root = freshPinRoot(this.currentTest?.title.slice(0, 20) ?? 'cli');
  });
  afterEach(() => {
    removePinRoot(root);
    root = undefined;
  });

  it('--help documents the pinning flags, that pins outlive the command, and the subcommands', async () => {
    const { status, out } = await run('--help');
    expect(status).to.equal(0);
    expect(out).to.contain('--pin').and.to.contain('--force').and.to.contain('--reuse-pinned').and.to.contain('--bpffs');
    expect(out).to.match(/pins\s+outlive this command/).and.to.contain('load-kern-object dump <pin>').and.to.contain('load-kern-object unpin <paths..>');
    const dumpHelp = await run('dump', '--help');
    expect(dumpHelp.status).to.equal(0);
    expect(dumpHelp.out).to.contain('--key').and.to.contain('u64');
  });

  it('FILE --pin DIR pins maps and programs that outlive the command; unpin DIR removes them', async () => {
    const dir = join(root!, 'app');
    const loaded = await run(fixturePath('socket_count_kern.o'), '--pin', dir);
    expect(loaded.status, loaded.err).to.equal(0);
    expect(loaded.out).to.contain(`pinned in ${dir}`).and.to.contain('they stay after this command exits');
    // the command closed every fd it had: only the pins hold the objects now
    const shown = bpftoolJson<BpftoolMapShow>('map', 'show', 'pinned', join(dir, 'maps/counts'));
    expect([shown.type, shown.bytes_key, shown.bytes_value, shown.max_entries]).to.deep.equal(['array', 4, 8, 2]);
    expect(listTree(dir)).to.deep.equal(['maps/', 'maps/counts', 'progs/', 'progs/count_packets']);

    const removed = await run('unpin', dir);
    expect(removed.status, removed.err).to.equal(0);
    expect(removed.out).to.contain(`unpinned ${dir}/maps/counts`).and.to.contain(`removed directory ${dir}`);
    expect(listTree(root!)).to.deep.equal([]);
  });

  it('refuses existing pins (exit 2) unless --force; --reuse-pinned keeps the map', async () => {
    const dir = join(root!, 'app');
    expect((await run(fixturePath('socket_count_kern.o'), '--pin', dir)).status).to.equal(0);
    const firstId = bpftoolJson<BpftoolMapShow>('map', 'show', 'pinned', join(dir, 'maps/counts')).id;

    const refused = await run(fixturePath('socket_count_kern.o'), '--pin', dir);
    expect(refused.status).to.equal(2);
    expect(refused.err).to.contain('already pinned').and.to.contain('--force');

    const reused = await run(fixturePath('socket_count_kern.o'), '--pin', dir, '--reuse-pinned', '--force', '--json');
    expect(reused.status, reused.err).to.equal(0);
    const json = JSON.parse(reused.out) as { maps: { name: string; id: number; pinned?: string }[]; programs: { pinned?: string }[] };
    const maps = json.maps;
    expect(maps.find((m) => m.name === 'counts')?.id).to.equal(firstId);
    // --json says where each object lives now: the reused pin for the map, the new pin for the program
    expect(maps.find((m) => m.name === 'counts')?.pinned).to.equal(join(dir, 'maps/counts'));
    expect(json.programs.map((p) => p.pinned)).to.deep.equal([join(dir, 'progs/count_packets')]);

    const noDir = await run(fixturePath('socket_count_kern.o'), '--reuse-pinned');
    expect(noDir.status).to.equal(2);
    expect(noDir.err).to.contain('reuse-pinned -> pin');

    const forced = await run(fixturePath('socket_count_kern.o'), '--pin', dir, '--force');
    expect(forced.status, forced.err).to.equal(0);
    expect(bpftoolJson<BpftoolMapShow>('map', 'show', 'pinned', join(dir, 'maps/counts')).id).to.not.equal(firstId);
  });

  it('a pin directory off bpffs is bad input (exit 2) with the mount command', async () => {
    const elsewhere = mkdtempSync(join(tmpdir(), 'bpf-load-cli-'));
    try {
      const result = await run(fixturePath('socket_count_kern.o'), '--pin', join(elsewhere, 'app'));
      expect(result.status).to.equal(2);
      expect(result.err).to.contain('not on a bpf filesystem').and.to.contain('mount -t bpf bpf');
    } finally {
      rmSync(elsewhere, { recursive: true, force: true });
    }
  });

  it('dump prints hex by default, decoded values with codecs, and JSON', async () => {
    const path = join(root!, 'flows');
    bpftoolRun('map', 'create', path, 'type', 'hash', 'key', '4', 'value', '8', 'entries', '16', 'name', 'flows');
    bpftoolRun('map', 'update', 'pinned', path, 'key', 'hex', '01', '00', '00', '00', 'value', 'hex', '2a', '00', '00', '00', '00', '00', '00', '01');

    const hex = await run('dump', path);
    expect(hex.status, hex.err).to.equal(0);
    expect(hex.out).to.contain("map 'flows' (hash").and.to.contain('1 entry');
    expect(hex.out).to.contain('key: 01 00 00 00  value: 2a 00 00 00 00 00 00 01');

    const decoded = await run('dump', path, '--key', 'u32', '--value', 'u64');
    expect(decoded.out).to.contain('key: 1  value: 72057594037927978');

    const json = JSON.parse((await run('dump', path, '--json', '--key', 'u32', '--value', 'u64')).out) as {
      map: { type: string; key_size: number; value_size: number; max_entries: number };
      entries: { key: unknown; value: unknown }[];
    };
    expect(json.map).to.include({ type: 'hash', key_size: 4, value_size: 8, max_entries: 16 });
    expect(json.entries).to.deep.equal([{ key: 1, value: '72057594037927978' }]);
    const rawJson = JSON.parse((await run('dump', path, '--json')).out) as { entries: unknown[] };
    expect(rawJson.entries).to.deep.equal([{ key: '01000000', value: '2a00000000000001' }]);
  });

  it('dump shows a per-CPU map one value per possible CPU', async () => {
    const path = join(root!, 'percpu');
    bpftoolRun('map', 'create', path, 'type', 'percpu_array', 'key', '4', 'value', '4', 'entries', '2', 'name', 'percpu');
    const cpus = possibleCpus();
    // bpftool's update copies one value to every CPU: write distinct ones through the library
    const map = openPinnedMap(path);
    try {
      map.perCpu(u32, u32).update(1, Array.from({ length: cpus }, (_, cpu) => cpu + 10));
    } finally {
      map.close();
    }
    const seen = bpftoolJson<{ key: string[]; values: { cpu: number; value: string[] }[] }[]>('map', 'dump', 'pinned', path);
    expect(seen[1]!.values.map((v) => parseInt(v.value[0]!, 16))).to.deep.equal(Array.from({ length: cpus }, (_, cpu) => cpu + 10));

    const json = JSON.parse((await run('dump', path, '--json', '--key', 'u32', '--value', 'u32')).out) as {
      map: { possible_cpus: number };
      entries: { key: number; values: number[] }[];
    };
    expect(json.map.possible_cpus).to.equal(cpus);
    expect(json.entries).to.deep.equal([
      { key: 0, values: Array(cpus).fill(0) },
      { key: 1, values: Array.from({ length: cpus }, (_, cpu) => cpu + 10) },
    ]);
    const text = (await run('dump', path, '--key', 'u32', '--value', 'u32')).out;
    expect(text).to.contain(`key: 1\n  cpu 0: 10\n`);
  });

  it('dump of a queue shows the value peek() sees, and pops nothing', async () => {
    const path = join(root!, 'q');
    bpftoolRun('map', 'create', path, 'type', 'queue', 'key', '0', 'value', '4', 'entries', '4', 'name', 'q');
    const empty = await run('dump', path);
    expect(empty.status, empty.err).to.equal(0);
    expect(empty.out.trim()).to.match(/map 'q' \(queue, .*\): empty$/);
    bpftoolRun('map', 'push', 'pinned', path, 'value', '7', '0', '0', '0');
    bpftoolRun('map', 'push', 'pinned', path, 'value', '8', '0', '0', '0');
    const shown = await run('dump', path, '--value', 'u32', '--json');
    expect(shown.status, shown.err).to.equal(0);
    expect(JSON.parse(shown.out)).to.deep.include({ next: 7 });
    expect(bpftoolJson<{ value: string[] }>('map', 'peek', 'pinned', path).value).to.deep.equal(['0x07', '0x00', '0x00', '0x00']);
  });

  it('dump: a missing pin, an unknown codec or a codec of the wrong size is bad input (exit 2)', async () => {
    const path = join(root!, 'flows');
    bpftoolRun('map', 'create', path, 'type', 'hash', 'key', '4', 'value', '8', 'entries', '16', 'name', 'flows');
    const missing = await run('dump', join(root!, 'nothing'));
    expect([missing.status, missing.err]).to.satisfy(([s, e]: [number, string]) => s === 2 && e.includes('nothing is pinned'));
    const unknown = await run('dump', path, '--key', 'u33');
    expect(unknown.status).to.equal(2);
    expect(unknown.err).to.contain("unknown codec 'u33' (one of: ").and.to.contain('u32');
    const wrongSize = await run('dump', path, '--value', 'u32');
    expect(wrongSize.status).to.equal(2);
    expect(wrongSize.err).to.contain("value codec u32 is 4 bytes, but map 'flows' has value_size 8");
    const noPath = await run('dump');
    expect(noPath.status).to.equal(2);
    // a pinned program: the kernel hands out an fd, but it is not a map
    const dir = join(root!, 'app');
    expect((await run(fixturePath('socket_count_kern.o'), '--pin', dir)).status).to.equal(0);
    const program = await run('dump', join(dir, 'progs/count_packets'));
    expect(program.status).to.equal(2);
    expect(program.err).to.contain(`'${join(dir, 'progs/count_packets')}' is not a pinned map`).and.to.contain('bpf-prog');
  });

  it('dump of a directory or of a file off bpffs is bad input (exit 2), said before asking the kernel', async () => {
    const dir = join(root!, 'app');
    expect((await run(fixturePath('socket_count_kern.o'), '--pin', dir)).status).to.equal(0);
    const directory = await run('dump', dir);
    expect(directory.status).to.equal(2);
    expect(directory.err).to.contain(`'${dir}' is a directory, not a pinned map (the maps --pin put there are in ${dir}/maps/)`);
    const offBpffs = await run('dump', fixturePath('socket_count_kern.o'));
    expect(offBpffs.status).to.equal(2);
    expect(offBpffs.err).to.contain('is not on a bpf filesystem, so it cannot be a pinned map');
  });

  it('unpin leaves what --pin did not make, and refuses paths off bpffs', async () => {
    const dir = join(root!, 'app');
    expect((await run(fixturePath('socket_count_kern.o'), '--pin', dir)).status).to.equal(0);
    bpftoolRun('map', 'create', join(dir, 'other'), 'type', 'array', 'key', '4', 'value', '4', 'entries', '1', 'name', 'other');
    const result = await run('unpin', dir);
    expect(result.status, result.err).to.equal(0);
    expect(listTree(dir)).to.deep.equal(['other']);
    expect(result.out).to.contain(`kept ${dir} (not empty: it holds more than --pin put there)`);

    expect((await run('unpin', join(root!, 'nope'))).status).to.equal(2);
    expect((await run('unpin', tmpdir())).status).to.equal(2);
  });

  it('--convention tc --bpffs DIR pins the tc way', async () => {
    const result = await run(fixturePath('tc_maps_kern.o'), '--convention', 'tc', '--bpffs', root!);
    expect(result.status, result.err).to.equal(0);
    expect(listTree(root!)).to.include.members(['tc/globals/tc_global_counts', 'tc/globals/tc_outer']);
    const json = await run(fixturePath('tc_maps_kern.o'), '--convention', 'tc', '--bpffs', root!, '--json');
    expect(json.status, json.err).to.equal(0);
    const pinned = (JSON.parse(json.out) as { maps: { name: string; pinned?: string }[] }).maps.map((m) => [m.name, m.pinned]);
    expect(pinned.filter(([name]) => name === 'tc_global_counts' || name === 'tc_private')).to.deep.equal([
      ['tc_global_counts', join(root!, 'tc/globals/tc_global_counts')],
      ['tc_private', undefined],
    ]);
  });
});
