import { expect } from 'chai';
import { spawnSync } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { loadBpfFile, type BpfObject } from '../../loader/index.js';
import { freshPinRoot, removePinRoot } from '../support/bpffs.js';
import { bpftoolJson, bpftoolRun, type BpftoolEntry, type BpftoolMapShow } from '../support/bpftool.js';
import { fixturePath } from '../support/fixtures.js';
import { requireKernel, requireTool } from '../support/kernel.js';
import { CLI } from '../support/processes.js';

/**
 * `load-kern-object dump PIN` of maps with BTF, as a real process: keys and
 * values decoded by their BTF types, compared with bpftool's "formatted"
 * output of the same pins (the oracle), global-data maps by variable.
 */

const TYPED = fixturePath('modern/typed_values.bpf.o');

function cli(...args: string[]): { status: number | null; out: string; err: string } {
  const result = spawnSync(process.execPath, [CLI, ...args], { encoding: 'utf8' });
  return { status: result.status, out: result.stdout, err: result.stderr };
}

function dumpJson<T>(pin: string, ...more: string[]): { parsed: T; text: string } {
  const run = cli('dump', pin, '--json', ...more);
  expect(run.status, run.err).to.equal(0);
  return { parsed: JSON.parse(run.out) as T, text: run.out };
}

interface DumpOutput {
  map: { id: number; name: string; btf?: { id: number; key_type?: string; value_type?: string } };
  entries: { key: unknown; value?: unknown; values?: unknown[] }[];
}

interface SectionOutput {
  map: { name: string; btf?: { id: number; value_type?: string } };
  section: string;
  variables: { name: string; type: string; offset: number; size: number; value: unknown }[];
}

function formattedOf(entries: BpftoolEntry[]): { key?: unknown; value?: unknown; values?: { cpu: number; value: unknown }[] }[] {
  return entries.map((entry) => entry.formatted as { key?: unknown; value?: unknown; values?: { cpu: number; value: unknown }[] });
}

/** A pin of --pin DIR's maps/ whose name ends so (bpffs names have '_' for the '.' of global-data maps). */
function pinEnding(dir: string, suffix: string): string {
  const name = readdirSync(join(dir, 'maps')).find((entry) => entry.endsWith(suffix));
  expect(name, `a pin ending ${suffix} in ${dir}/maps`).to.be.a('string');
  return join(dir, 'maps', name!);
}

const U64_MAX = 18446744073709551615n;

describe('cli: dump PIN by BTF types, against bpftool\'s formatted output', function () {
  this.timeout(30000);
  let root: string | undefined;
  let object: BpfObject | undefined;
  let dir: string;

  before(async function () {
    requireKernel(this);
    requireTool(this, 'bpftool');
    root = freshPinRoot('btfdump');
    dir = join(root, 'typed');
    object = await loadBpfFile(TYPED, { pinDir: dir, variables: { label: 'dumped', offset: -123456789012n } });
    const table = object.map('table').typed();
    table.update({ id: 1, tag: 'alpha' }, {
      state: 'STATE_RUNNING', temperature: -40, total: U64_MAX, name: 'sensor', samples: [1, 2, 3],
      inner: { delta: -2, flags: 255 }, low: 5, high: 17, u: { as_u32: 0x01020304 }, on: true,
    });
    // an enum value with no enumerator, and a char array that is no printable string
    table.update({ id: 2, tag: '' }, {
      state: 5, temperature: 2147483647, total: 7n, name: '\u0001\u0002', samples: [0, 0, 0],
      inner: { delta: 0, flags: 0 }, low: 0, high: 31, u: { bytes: [9, 8, 7, 6] }, on: false,
    });
    const perCpu = object.map('per_cpu');
    const cpus = perCpu.possibleCpus;
    perCpu.perCpu().update(Buffer.from([1, 0, 0, 0]), Array.from({ length: cpus }, (_, cpu) => Buffer.from([cpu + 1, 0, 7, 0])));
  });

  after(() => {
    object?.close();
    removePinRoot(root);
  });

  it('a hash of struct keys to struct values: each entry as bpftool formats it; the header names the BTF types', () => {
    const pin = join(dir, 'maps/table');
    const { parsed, text } = dumpJson<DumpOutput>(pin);
    const show = bpftoolJson<BpftoolMapShow & { btf_id: number }>('map', 'show', 'pinned', pin);
    expect(parsed.map.btf).to.deep.equal({ id: show.btf_id, key_type: 'struct typed_key', value_type: 'struct typed_value' });
    const oracle = formattedOf(bpftoolJson<BpftoolEntry[]>('map', 'dump', 'pinned', pin));
    const byId = (a: { key?: unknown }, b: { key?: unknown }): number => (a.key as { id: number }).id - (b.key as { id: number }).id;
    expect(parsed.entries.sort(byId)).to.deep.equal(oracle.sort(byId));
    expect(parsed.entries).to.have.length(2);
    // what bpftool shows of these values, spelled out: enums by name (a number where none matches), chars as strings
    // (bytes when not printable), bitfields as hex strings, a named union's members, bool
    const [first, second] = parsed.entries as { key: Record<string, unknown>; value: Record<string, unknown> }[];
    expect(first!.key).to.deep.equal({ id: 1, tag: 'alpha' });
    expect(first!.value).to.include({ state: 'STATE_RUNNING', temperature: -40, name: 'sensor', low: '0x5', high: '0x11', on: true });
    expect(first!.value['u']).to.deep.equal({ as_u32: 0x01020304, bytes: [4, 3, 2, 1] });
    expect(first!.value['inner']).to.deep.equal({ delta: -2, flags: 255 });
    expect(second!.value).to.include({ state: 5, on: false });
    expect(second!.value['name']).to.deep.equal([1, 2, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]);
    // a u64 past 2**53 is written as its exact digits, as bpftool writes it
    expect(text).to.contain(`"total": ${U64_MAX}`);
  });

  it('the text dump: one line per entry, key and value as compact JSON', () => {
    const run = cli('dump', join(dir, 'maps/table'));
    expect(run.status, run.err).to.equal(0);
    expect(run.out).to.match(/map 'table' \(hash, id \d+, key 12, value 64, max_entries 64, flags 0x0, BTF id \d+ key struct typed_key value struct typed_value\):\n/);
    expect(run.out).to.contain('key: {"id":1,"tag":"alpha"}  value: {"state":"STATE_RUNNING","temperature":-40,');
    expect(run.out).to.contain(`"total":${U64_MAX},"name":"sensor","samples":[1,2,3],"inner":{"delta":-2,"flags":255},"low":"0x5","high":"0x11",`);
    expect(run.out).to.match(/\n2 entries\n$/);
  });

  it('a per-CPU array of structs: a value per possible CPU, as bpftool formats each', () => {
    const pin = join(dir, 'maps/per_cpu');
    const { parsed } = dumpJson<DumpOutput>(pin);
    const oracle = formattedOf(bpftoolJson<BpftoolEntry[]>('map', 'dump', 'pinned', pin));
    expect(parsed.entries.map((e) => ({ key: e.key, values: e.values!.map((value, cpu) => ({ cpu, value })) }))).to.deep.equal(oracle);
    expect(parsed.entries[1]!.values![0]).to.deep.equal({ delta: 1, flags: 7 });
  });

  it('global-data maps (.rodata, .data, .bss): the variables by name, with the values bpftool shows', () => {
    for (const [suffix, section] of [['_rodata', '.rodata'], ['_data', '.data'], ['_bss', '.bss']] as const) {
      const pin = pinEnding(dir, suffix);
      const { parsed } = dumpJson<SectionOutput>(pin);
      expect(parsed.section).to.equal(section);
      expect(parsed.map.btf?.value_type).to.equal(section);
      const oracle = formattedOf(bpftoolJson<BpftoolEntry[]>('map', 'dump', 'pinned', pin));
      expect(oracle).to.have.length(1);
      const sectionValue = (oracle[0]!.value as Record<string, unknown[]>)[section];
      expect(parsed.variables.map((v) => ({ [v.name]: v.value }))).to.deep.equal(sectionValue);
    }
    const data = dumpJson<SectionOutput>(pinEnding(dir, '_data')).parsed;
    expect(data.variables.map((v) => [v.name, v.type, v.value])).to.deep.equal([
      ['label', 'char[12]', 'dumped'], ['mode', 'enum state', 'STATE_RUNNING'], ['offset', '__s64', -123456789012],
    ]);
    const text = cli('dump', pinEnding(dir, '_bss'));
    expect(text.status, text.err).to.equal(0);
    expect(text.out).to.match(/\nsection \.bss, 2 variables:\n {2}sent \(__u64, offset 0\): 0\n {2}last \(struct event, offset 8\): \{"pid":0,"seq":0,"state":"STATE_IDLE","comm":"","stamp":0\}\n$/);
  });

  it('--hex shows the bytes of a map with BTF; --key/--value codecs win over its BTF types', () => {
    const pin = join(dir, 'maps/per_cpu');
    const hex = cli('dump', pin, '--hex');
    expect(hex.status, hex.err).to.equal(0);
    expect(hex.out).to.contain('key: 01 00 00 00\n  cpu 0: 01 00 07 00\n');
    expect(hex.out).not.to.contain('BTF id');
    const mixed = dumpJson<DumpOutput>(pin, '--value', 'u32').parsed;
    expect(mixed.map.btf).to.deep.include({ key_type: '__u32' });
    expect(mixed.map.btf).not.to.have.property('value_type');
    expect(mixed.entries[1]).to.deep.include({ key: 1 });
    expect(mixed.entries[1]!.values![0]).to.equal(0x00070001);
  });

  it('maps libbpf made (bpftool prog loadall): the kernel\'s BTF is all it takes', () => {
    const progs = join(root!, 'libbpf_progs');
    const maps = join(root!, 'libbpf_maps');
    bpftoolRun('prog', 'loadall', TYPED, progs, 'pinmaps', maps);
    const rodata = readdirSync(maps).find((name) => name.endsWith('rodata'));
    expect(rodata).to.be.a('string');
    const { parsed } = dumpJson<SectionOutput>(join(maps, rodata!));
    expect(parsed.variables).to.deep.equal([{ name: 'target_tgid', type: '__u32', offset: 0, size: 4, value: 0 }]);
    const table = dumpJson<DumpOutput>(join(maps, 'table')).parsed;
    expect(table.map.btf).to.deep.include({ key_type: 'struct typed_key', value_type: 'struct typed_value' });
    expect(table.entries).to.deep.equal([]);
  });

  it('a map without BTF types (a legacy object) stays hex', async () => {
    const legacyDir = join(root!, 'legacy');
    const legacy = await loadBpfFile(fixturePath('socket_count_kern.o'), { pinDir: legacyDir });
    try {
      const run = cli('dump', join(legacyDir, 'maps/counts'));
      expect(run.status, run.err).to.equal(0);
      expect(run.out).to.contain('key: 00 00 00 00  value: 00 00 00 00 00 00 00 00\n').and.not.to.contain('BTF');
    } finally {
      legacy.close();
    }
  });
});
