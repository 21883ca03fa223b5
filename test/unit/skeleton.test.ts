import { expect } from 'chai';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { generateSkeleton } from '../../loader/skeleton/generate.js';
import { loadSkeleton, skeletonRecords, type RecordType, type SkeletonDescription } from '../../loader/skeleton/loadSkeleton.js';
import { btfCodec } from '../../loader/maps/btfCodec.js';
import { objectBtf } from '../../elf/btf/index.js';
import { readElf } from '../../elf/elfFile.js';
import { fixtureBytes, fixturePath, repoRoot } from '../support/fixtures.js';
import { tscStrict } from '../support/tsc.js';

const LIBRARY = join(repoRoot, 'dist', 'loader', 'index.js');


const USE = `import { load, skeleton, type Skeleton, type flow_key } from './maps_btf.skel.js';

export async function use(): Promise<void> {
  const obj: Skeleton = await load();
  const key: flow_key = { saddr: 1, daddr: 2, sport: 3, dport: 4, proto: 6 };
  const stats = obj.maps.flows.lookup(key);
  const packets: bigint | undefined = stats?.packets;
  obj.maps.flows.update(key, { packets: 1n, bytes: 64n });
  const route = obj.maps.routes.lookup({ prefixlen: 32, addr: [127, 0, 0, 1] });
  const perCpu: bigint[] | undefined = obj.maps.percpu_hash.lookup(7);
  const raw: Buffer | undefined = obj.maps.sized_array.lookup(Buffer.alloc(4));
  const fd: number = obj.programs.touch_every_map.fd;
  const sha: string = skeleton.sha256;
  void [packets, route, perCpu, raw, fd, sha];
  obj.close();
}
`;

/** Each line is one mistake the types must catch. */
const MISTAKES = [
  `obj.maps.flows.lookup({ saddr: '10.0.0.1', daddr: 2, sport: 3, dport: 4, proto: 6 });`,
  `obj.maps.flows.lookup(7);`,
  `obj.maps.flows.update({ saddr: 1, daddr: 2, sport: 3, dport: 4, proto: 6 }, { packets: 1, bytes: 2 });`,
  `obj.maps.sparse_hash.lookup('x');`,
  `obj.maps.no_such_map.lookup(1);`,
  `obj.programs.no_such_program.fd;`,
];

const GLOBALS_USE = `import { load } from './globals.skel.js';

export async function use(): Promise<void> {
  const obj = await load();
  const hits: bigint = obj.variables.hits.get();
  obj.variables.last.set({ pid: 1, tgid: 2, comm: 'node' });
  const greeting: string = obj.variables.greeting.get();
  const enabled: boolean = obj.variables.enabled.get();
  const scratch: number[] = obj.variables.custom_scratch.get();
  void [hits, greeting, enabled, scratch];
  // @ts-expect-error a u64 variable takes a bigint
  obj.variables.step.set(1);
  obj.close();
  // values set before the load are typed too: a .rodata variable can only be set then
  const configured = await load(undefined, { variables: { target_tgid: 7, step: 2n, greeting: 'hi', last: { pid: 1, tgid: 1, comm: 'x' } } });
  configured.close();
  // @ts-expect-error a u64 variable takes a bigint before the load as after
  await load(undefined, { variables: { step: 2 } });
  // @ts-expect-error no such variable
  await load(undefined, { variables: { no_such_variable: 1 } });
}
`;

describe('skeleton: TypeScript types generated from an object, and loadSkeleton', () => {
  let dir: string;
  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'bpf-load-skeleton-'));
    for (const [name, out] of [['modern/maps_btf.bpf.o', 'maps_btf.skel.ts'], ['modern/globals.bpf.o', 'globals.skel.ts']] as const) {
      writeFileSync(join(dir, out), generateSkeleton(fixtureBytes(name), { objectPath: fixturePath(name), importFrom: LIBRARY }));
    }
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  it('writes the maps with their BTF key/value types, raw maps as BpfMap, per-CPU values as arrays', () => {
    const text = readFileSync(join(dir, 'maps_btf.skel.ts'), 'utf8');
    expect(text).to.include('export interface flow_key {\n  /** __u32 */\n  saddr: number;');
    expect(text).to.include('readonly flows: TypedMap<flow_key, flow_stats>;');
    expect(text).to.include('readonly sized_array: BpfMap;');
    expect(text).to.include('readonly percpu_hash: TypedMap<number, Array<bigint>>;');
    expect(text).to.include('readonly routes: TypedMap<lpm_v4_key, number>;');
    expect(text).to.include('addr: number[];');
    expect(text).to.include('readonly events: BpfMap;');
    expect(text).to.include('export type ProgramName = "touch_every_map";');
    expect(text).to.match(/"sha256": "[0-9a-f]{64}"/);
  });

  it('static variables (bpf_printk\'s format strings) are not given, as in bpftool\'s skeletons', () => {
    const text = generateSkeleton(fixtureBytes('modern/printk.bpf.o'), { objectPath: fixturePath('modern/printk.bpf.o'), importFrom: LIBRARY });
    expect(text).to.not.include('____fmt');
    expect(text).to.include('readonly copied: SkeletonVariable<string>;');
  });

  it('the generated modules and code that uses them right compile under tsc --strict', function () {
    this.timeout(60_000);
    writeFileSync(join(dir, 'use.ts'), USE);
    writeFileSync(join(dir, 'globals_use.ts'), GLOBALS_USE);
    const { status, output } = tscStrict(dir, ['maps_btf.skel.ts', 'globals.skel.ts', 'use.ts', 'globals_use.ts']);
    expect(output).to.equal('');
    expect(status).to.equal(0);
  });

  it('the module generated from every fixture (legacy, tc and modern) compiles under tsc --strict', function () {
    this.timeout(120_000);
    const objects = [
      ...readdirSync(fixturePath('')).filter((f) => f.endsWith('.o') && f !== 'x86_64_object.o'),
      ...readdirSync(fixturePath('modern')).filter((f) => f.endsWith('.bpf.o')).map((f) => `modern/${f}`),
    ];
    const files = objects.map((object) => {
      const file = `all_${object.replace(/\W/g, '_')}.ts`;
      writeFileSync(join(dir, file), generateSkeleton(fixtureBytes(object), { objectPath: fixturePath(object), importFrom: LIBRARY }));
      return file;
    });
    expect(files.length).to.be.greaterThan(30);
    const { status, output } = tscStrict(dir, files);
    expect(output).to.equal('');
    expect(status).to.equal(0);
  });

  it('every wrong key, value, map or program name is a compile error on its own line', function () {
    this.timeout(60_000);
    const body = MISTAKES.map((line) => `  ${line}`).join('\n');
    writeFileSync(join(dir, 'wrong.ts'), `import { load } from './maps_btf.skel.js';\n\nexport async function wrong(): Promise<void> {\n  const obj = await load();\n${body}\n}\n`);
    const { status, output } = tscStrict(dir, ['wrong.ts']);
    expect(status).to.not.equal(0);
    const lines = new Set([...output.matchAll(/wrong\.ts\((\d+),\d+\): error/g)].map((m) => Number(m[1])));
    expect([...lines].sort((a, b) => a - b)).to.deep.equal(MISTAKES.map((_, i) => 5 + i));
  });

  it('loadSkeleton refuses an object whose sha256 is not the one the types were generated from, before loading', async () => {
    const error = await loadSkeleton(fixturePath('debuginfo_g_kern.o'), {
      object: 'debuginfo_g_kern.o', sha256: '0'.repeat(64), maps: {}, variables: {}, programs: [],
    }).then(() => undefined, (e: unknown) => e);
    expect(error).to.have.property('code', 'BPF_LOAD_INPUT');
    expect(String((error as Error).message)).to.match(/is not the object the skeleton was generated from \(debuginfo_g_kern\.o\): sha256 [0-9a-f]{64}, expected 0{64}/);
    const bad = await loadSkeleton(fixturePath('debuginfo_g_kern.o'), {} as never).then(() => undefined, (e: unknown) => e);
    expect(bad).to.have.property('code', 'BPF_LOAD_ARGUMENT');
  });
});

/** The `skeleton` constant of a generated module, as its load() and recordTypes() pass it on. */
function descriptionOf(text: string): SkeletonDescription {
  return JSON.parse(/export const skeleton = (\{[\s\S]*?\n\}) as const;/.exec(text)![1]!) as SkeletonDescription;
}

describe('skeleton: record types (generateSkeleton types, gen-types --type)', () => {
  const name = 'modern/typed_values.bpf.o';
  const path = fixturePath(name);
  const event = { pid: 7, seq: 2, state: 7, comm: 'node', stamp: 0x1122334455667788n };
  /** struct event's bytes as the program writes them: through btfCodec of the same BTF */
  function eventBytes(size: number): Buffer {
    const btf = objectBtf(readElf(fixtureBytes(name), path), path)!;
    const id = btf.byName('event').find((i) => btf.kindOf(i) === 'STRUCT')!;
    const bytes = Buffer.alloc(size, 0xee);
    btfCodec(btf, id).encode(event, bytes, new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength), 0);
    return bytes;
  }

  it('`event` and `struct event` name one record type: one interface, one records.event, the type id in the description', () => {
    const text = generateSkeleton(fixtureBytes(name), { objectPath: path, importFrom: LIBRARY, types: ['event', 'struct event'] });
    expect(text).to.include('export interface event {\n  /** __u32 */\n  pid: number;');
    expect(text.match(/readonly event: RecordType<event>;/g)).to.have.length(1);
    expect(descriptionOf(text).records).to.have.all.keys('event');
    expect(descriptionOf(text).records!['event']!.type).to.equal('struct event');
    // without types: an empty Records and no record in the description
    const plain = generateSkeleton(fixtureBytes(name), { objectPath: path, importFrom: LIBRARY });
    expect(plain).to.include('export interface Records {\n}');
    expect(descriptionOf(plain).records).to.deep.equal({});
  });

  it('an anonymous struct or union member is written inline, indented as its member', () => {
    const text = generateSkeleton(fixtureBytes(name), { objectPath: path, importFrom: LIBRARY });
    expect(text).to.include('  /** union (anon) */\n  u: {\n    /** __u32 */\n    as_u32: number;\n    /** __u8[4] */\n    bytes: number[];\n  };\n');
  });

  it('records decode what btfCodec of the object decodes; a longer record (a perf record\'s padding) is read from its start', () => {
    const records = skeletonRecords<{ event: RecordType<unknown> }>(path, descriptionOf(
      generateSkeleton(fixtureBytes(name), { objectPath: path, importFrom: LIBRARY, types: ['event'] })));
    expect(records.event.type).to.equal('struct event');
    expect(records.event.size).to.equal(40);
    expect(records.event.decode(eventBytes(40))).to.deep.equal(event);
    expect(records.event.decode(eventBytes(44))).to.deep.equal(event);
    // a Uint8Array that is no Buffer, at an offset of its ArrayBuffer
    const inner = eventBytes(48);
    expect(records.event.decode(new Uint8Array(inner.buffer, inner.byteOffset, 40))).to.deep.equal(event);
    const bytes = Buffer.alloc(40);
    records.event.codec.encode(event, bytes, new DataView(bytes.buffer, bytes.byteOffset, 40), 0);
    expect(bytes.equals(eventBytes(40).subarray(0, 40))).to.equal(true);
  });

  it('a record shorter than the type is refused (BPF_LOAD_MAP_SIZE), naming both sizes; a non-buffer is an argument error', () => {
    const records = skeletonRecords<{ event: RecordType<unknown> }>(path, descriptionOf(
      generateSkeleton(fixtureBytes(name), { objectPath: path, importFrom: LIBRARY, types: ['event'] })));
    expect(() => records.event.decode(eventBytes(40).subarray(0, 39))).to.throw('a record of 39 bytes is shorter than struct event (40 bytes)')
      .with.property('code', 'BPF_LOAD_MAP_SIZE');
    expect(() => records.event.decode('x' as never)).to.throw(/records\.event\.decode: data must be a record's bytes/).with.property('code', 'BPF_LOAD_ARGUMENT');
  });

  it('recordTypes() refuses another object (BPF_LOAD_INPUT) and a description whose type id is not the named type', () => {
    const description = descriptionOf(generateSkeleton(fixtureBytes(name), { objectPath: path, importFrom: LIBRARY, types: ['event'] }));
    expect(() => skeletonRecords(fixturePath('modern/globals.bpf.o'), description)).to.throw(/is not the object the skeleton was generated from/)
      .with.property('code', 'BPF_LOAD_INPUT');
    const edited = { ...description, records: { event: { type: 'struct event', id: description.records!['event']!.id + 1 } } };
    expect(() => skeletonRecords(path, edited)).to.throw(/record type 'event': the object's BTF has no struct event \[\d+\]/)
      .with.property('code', 'BPF_LOAD_INPUT');
    expect(() => skeletonRecords(path, { ...description, records: { event: null } } as never)).to.throw(/skeleton\.records\.event must be a record type as gen-types writes it \(\{ type, id \}\), not null/)
      .with.property('code', 'BPF_LOAD_ARGUMENT');
    expect(() => skeletonRecords(path, { ...description, records: 7 } as never)).to.throw(/skeletonRecords: skeleton must be/)
      .with.property('code', 'BPF_LOAD_ARGUMENT');
    expect(() => skeletonRecords('/no/such/object.o', description)).to.throw(/\/no\/such\/object\.o: cannot read object: ENOENT/)
      .with.property('code', 'BPF_LOAD_INPUT');
  });

  it('recordTypes() of a path that is a FIFO or a directory is refused at once, as a load refuses it, never a read that blocks', () => {
    const description = descriptionOf(generateSkeleton(fixtureBytes(name), { objectPath: path, importFrom: LIBRARY, types: ['event'] }));
    const dir = mkdtempSync(join(tmpdir(), 'bpf-load-records-'));
    try {
      const fifo = join(dir, 'object.o');
      execFileSync('mkfifo', [fifo]);
      expect(() => skeletonRecords(fifo, description)).to.throw(/cannot read object: it is a FIFO, not an object file/).with.property('code', 'BPF_LOAD_INPUT');
      expect(() => skeletonRecords(dir, description)).to.throw(/cannot read object/).with.property('code', 'BPF_LOAD_INPUT');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('generateSkeleton: types must be an array of names; a missing name names the file and how to keep the type', () => {
    for (const types of ['event', [1], null]) {
      expect(() => generateSkeleton(fixtureBytes(name), { objectPath: path, types: types as never }))
        .to.throw(/generateSkeleton: options\.types must be an array of type names/).with.property('code', 'BPF_LOAD_ARGUMENT');
    }
    expect(() => generateSkeleton(fixtureBytes(name), { objectPath: path, types: ['struct nope'] }))
      .to.throw(`${path}: record type struct nope: the object's BTF has no such type (structs and unions: struct event, struct inner, struct typed_key, struct typed_value) ` +
        "(clang gives BTF only to the types of global variables, maps and functions, not to one used only inside a function (a pointer into a ring buffer): " +
        "keep it with 'static const struct nope *const keep_nope __attribute__((used));' (8 bytes of .rodata, no map of its own if the object has a .rodata) and build with -g)")
      .with.property('code', 'BPF_LOAD_ARGUMENT');
  });
});
