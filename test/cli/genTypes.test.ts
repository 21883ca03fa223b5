import { expect } from 'chai';
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fixturePath, repoRoot } from '../support/fixtures.js';
import { tscStrict } from '../support/tsc.js';
import { requireTool } from '../support/kernel.js';
import { CLI } from '../support/processes.js';

function run(...args: string[]): { status: number | null; stdout: string; stderr: string } {
  const child = spawnSync(process.execPath, [CLI, ...args], { encoding: 'utf8' });
  return { status: child.status, stdout: child.stdout, stderr: child.stderr };
}

describe('cli: gen-types, the typed skeleton as a user writes it', () => {
  const object = fixturePath('modern/maps_btf.bpf.o');

  it('prints the module for an object built with -g: its maps, the sha256 and load()', () => {
    const got = run('gen-types', object);
    expect(got.stderr).to.equal('');
    expect(got.status).to.equal(0);
    expect(got.stdout).to.match(/export interface Maps \{/);
    expect(got.stdout).to.include('from "bpf-load"');
    expect(got.stdout).to.include(object);
    expect(got.stdout).to.match(/[0-9a-f]{64}/);
  });

  it('-o writes the file (a second run rewrites it the same), --import-from names the package', () => {
    const dir = mkdtempSync(join(tmpdir(), 'bpf-load-gen-types-'));
    try {
      const out = join(dir, 'maps_btf.skel.ts');
      for (let round = 0; round < 2; round++) {
        const got = run('gen-types', object, '-o', out, '--import-from', '../dist/loader/index.js');
        expect([got.status, got.stdout], got.stderr).to.deep.equal([0, '']);
        expect(got.stderr).to.include(out);
      }
      const text = readFileSync(out, 'utf8');
      expect(text).to.include('from "../dist/loader/index.js"');
      expect(text).to.equal(run('gen-types', object, '--import-from', '../dist/loader/index.js').stdout);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('a missing file and a missing argument are usage errors (exit 2), with nothing written', () => {
    const missing = run('gen-types', '/no/such/object.o');
    expect(missing.status).to.equal(2);
    expect(missing.stderr).to.match(/\/no\/such\/object\.o: cannot read object: ENOENT/);
    const none = run('gen-types');
    expect(none.status).to.equal(2);
    expect(none.stdout).to.equal('');
  });

  it('a FIFO is refused, not opened and waited on', () => {
    const dir = mkdtempSync(join(tmpdir(), 'bpf-load-gen-types-fifo-'));
    try {
      const fifo = join(dir, 'object.o');
      execFileSync('mkfifo', [fifo]);
      // blocked in open(2), the process would not even answer SIGTERM
      const child = spawnSync(process.execPath, [CLI, 'gen-types', fifo], { encoding: 'utf8', timeout: 30_000, killSignal: 'SIGKILL' });
      expect(child.status, child.stderr).to.equal(2);
      expect(child.stderr).to.match(/object\.o: cannot read object: it is a FIFO, not an object file/);
      expect(child.stdout).to.equal('');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

/**
 * Record types a program sends through a ring buffer, each kept in the object's BTF by a static
 * const pointer (what the programs' bodies alone would not give BTF): a typedef of an anonymous
 * struct, a struct with a typedef of the same name, a struct and a typedef of int sharing a name
 * (two types), a union and an enum. No headers: it builds with clang alone.
 */
const RECORDS_C = `#define SEC(name) __attribute__((section(name), used))
#define __uint(name, val) int (*name)[val]
typedef struct { unsigned int pid; char comm[16]; } anon_event_t;
enum state { S_IDLE = 0, S_DONE = 7 };
struct event { unsigned int pid; unsigned long long stamp; enum state state; union { unsigned int as_u32; unsigned char bytes[4]; }; _Bool on; };
typedef struct event event;
typedef int clash;
struct clash { int a; };
union value { unsigned int a; unsigned long long b; };
static const anon_event_t *const keep_anon __attribute__((used));
static const event *const keep_event __attribute__((used));
static const clash *const keep_clash __attribute__((used));
static const struct clash *const keep_struct_clash __attribute__((used));
static const union value *const keep_value __attribute__((used));
struct { __uint(type, 27); __uint(max_entries, 4096); } rb SEC(".maps");
SEC("tp/syscalls/sys_enter_getppid") int send(void *ctx) { return 0; }
char LICENSE[] SEC("license") = "GPL";
`;


describe('cli: gen-types --type NAME, record types for what a ring buffer or perf event array carries', function () {
  this.timeout(60_000);
  const LIBRARY = join(repoRoot, 'dist', 'loader', 'index.js');
  let dir: string;
  let object: string;
  before(function () {
    requireTool(this, 'clang');
    dir = mkdtempSync(join(tmpdir(), 'bpf-load-gen-types-records-'));
    object = join(dir, 'records.bpf.o');
    writeFileSync(join(dir, 'records.bpf.c'), RECORDS_C);
    const build = spawnSync('clang', ['-O2', '-g', '-target', 'bpf', '-Wall', '-Werror', '-c', join(dir, 'records.bpf.c'), '-o', object], { encoding: 'utf8' });
    expect(build.status, build.stderr).to.equal(0);
  });
  after(() => {
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('--type, repeated or a comma-separated list: an interface per record type and records.NAME typed by it; a name given twice is one record', () => {
    const got = run('gen-types', object, '--type', 'anon_event_t,event', '--type', 'struct event', '--type', 'union value',
      '--type', 'enum state', '--type', 'typedef clash', '--import-from', LIBRARY, '-o', join(dir, 'records.skel.ts'));
    expect([got.status, got.stdout], got.stderr).to.deep.equal([0, '']);
    const text = readFileSync(join(dir, 'records.skel.ts'), 'utf8');
    // a typedef of an anonymous struct is declared under the typedef's name
    expect(text).to.include('/** anon_event_t: struct, 20 bytes */\nexport interface anon_event_t {');
    expect(text).to.include('export interface event {');
    const records = /export interface Records \{\n([\s\S]*?)\n\}/.exec(text)![1]!;
    expect(records.split('\n').filter((l) => l.includes('readonly'))).to.deep.equal([
      '  readonly anon_event_t: RecordType<anon_event_t>;',
      '  readonly event: RecordType<event>;',
      '  readonly value: RecordType<value>;',
      '  readonly state: RecordType<number>;',
      '  readonly clash: RecordType<number>;',
    ]);
    expect(text).to.match(/"event": \{\n\s+"type": "struct event",\n\s+"id": \d+\n\s+\}/);
    // an enum's enumerators, as the records decode them
    expect(text).to.include('export const state = {\n  S_IDLE: 0,\n  S_DONE: 7,\n} as const;');
  });

  it('the module compiles under tsc --strict with code that uses the records right, and each wrong use is a compile error', () => {
    const right = [
      `import { recordTypes, state, type event } from './records.skel.js';`,
      'const records = recordTypes();',
      'const e: event = records.event.decode(Buffer.alloc(32));',
      'const pid: number = e.pid;',
      'const stamp: bigint = e.stamp;',
      'const done: boolean = e.state === state.S_DONE;',
      'const seven: 7 = state.S_DONE;',
      'const on: boolean = e.on;',
      'const u: number = e.as_u32 + e.bytes[0]!;',
      'const comm: string = records.anon_event_t.decode(Buffer.alloc(20)).comm;',
      'const b: bigint = records.value.decode(Buffer.alloc(8)).b;',
      'const s: number = records.state.decode(Buffer.alloc(4));',
      'const a: number = records.clash.decode(Buffer.alloc(4));',
      'export const all = [pid, stamp, done, seven, on, u, comm, b, s, a, records.event.size, records.event.type];',
    ];
    writeFileSync(join(dir, 'right.ts'), `${right.join('\n')}\n`);
    const good = tscStrict(dir, ['records.skel.ts', 'right.ts']);
    expect(good.output).to.equal('');
    expect(good.status).to.equal(0);
    const head = [`import { recordTypes, state } from './records.skel.js';`, 'const records = recordTypes();'];
    const mistakes = [
      'export const m1 = records.event.decode(Buffer.alloc(32)).comm;', // struct event has no comm
      'export const m2: number = records.event.decode(Buffer.alloc(32)).stamp;', // unsigned long long: a bigint
      'export const m3: string = records.anon_event_t.decode(Buffer.alloc(20)).pid;',
      'export const m4 = records.typed_key;', // not asked for
      'export const m5 = records.event.decode(7);',
      'export const m6 = state.S_RUNNING;', // no such enumerator
    ];
    writeFileSync(join(dir, 'wrong.ts'), `${[...head, ...mistakes].join('\n')}\n`);
    const bad = tscStrict(dir, ['wrong.ts']);
    expect(bad.status).to.not.equal(0);
    const lines = new Set([...bad.output.matchAll(/wrong\.ts\((\d+),\d+\): error/g)].map((m) => Number(m[1])));
    expect([...lines].sort((a, b) => a - b), bad.output).to.deep.equal(mistakes.map((_, i) => head.length + 1 + i));
  });

  it('a name the BTF lacks, two types of one name, a function, a variable, a forward declaration, void: exit 2, nothing written', () => {
    const out = join(dir, 'never.skel.ts');
    const cases: [string, string, RegExp][] = [
      [object, 'nope', /^load-kern-object gen-types: \S+records\.bpf\.o: record type nope: the object's BTF has no such type \(structs and unions: struct clash, struct event, union value\) \(clang gives BTF only to the types of global variables, maps and functions, not to one used only inside a function \(a pointer into a ring buffer\): keep it with 'static const struct nope \*const keep_nope __attribute__\(\(used\)\);'/],
      [object, 'clash', /record type clash: 2 types have that name \(typedef clash \[\d+\], struct clash \[\d+\]\): say which: 'typedef clash' or 'struct clash'/],
      [object, 'union event', /record type union event: the object's BTF has no union event, but has typedef event \[\d+\], struct event \[\d+\]/],
      [object, 'typedef value', /record type typedef value: the object's BTF has no typedef value, but has union value \[\d+\]/],
      [object, 'send', /record type send: the object's BTF has it only as a function \[\d+\]/],
      [object, 'rb', /record type rb: the object's BTF has it only as a variable \(give its type\) \[\d+\]/],
      [fixturePath('modern/btf_targets.bpf.o'), 'seq_file', /record type seq_file: the object's BTF has it only as a forward declaration, with no members \[\d+\] \(clang gives BTF only/],
      [object, 'void', /record type void: void has no bytes to decode/],
      [object, 'typedef clash,struct clash', /record types typedef clash and struct clash would both be records\.clash \(name only one of them\)/],
      [object, 'typedef nope', /record type typedef nope: the object's BTF has no such type .*keep it with 'static const nope \*const keep_nope __attribute__\(\(used\)\);'/],
      [object, 'struct', /record type struct: give a type name, as in C: 'struct event', 'union value', 'enum state' or a typedef's name/],
      [fixturePath('sockex1_kern.o'), 'event', /sockex1_kern\.o: record type event: the object has no BTF \(build it with clang -g\)/],
    ];
    for (const [file, name, message] of cases) {
      const got = run('gen-types', file, '--type', name, '-o', out);
      expect([got.status, got.stdout], `--type ${name}: ${got.stderr}`).to.deep.equal([2, '']);
      expect(got.stderr.trim().split('\n')).to.have.length(1);
      expect(got.stderr, `--type ${name}`).to.match(message);
    }
    expect(() => readFileSync(out)).to.throw(/ENOENT/);
    const missing = run('gen-types', object, '--type');
    expect(missing.status).to.equal(2);
    expect(missing.stderr).to.match(/Not enough arguments following: type/);
    for (const empty of ['', ',', ' , ']) {
      const got = run('gen-types', object, '--type', empty, '-o', out);
      expect([got.status, got.stdout], `--type '${empty}': ${got.stderr}`).to.deep.equal([2, '']);
      expect(got.stderr).to.match(/--type needs a type name \('event', 'struct event'\), not an empty list/);
    }
    expect(() => readFileSync(out)).to.throw(/ENOENT/);
  });
});
