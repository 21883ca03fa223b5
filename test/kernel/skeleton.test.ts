import { expect } from 'chai';
import { generateSkeleton } from '../../loader/skeleton/generate.js';
import { loadSkeleton } from '../../loader/skeleton/loadSkeleton.js';
import { fixtureBytes, fixturePath, repoRoot } from '../support/fixtures.js';
import { requireKernel, requireTracefs } from '../support/kernel.js';
import { openPerfEventReader, openRingBufferReader } from '../../loader/index.js';
import type { RecordType } from '../../loader/skeleton/loadSkeleton.js';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';

const LIBRARY = join(repoRoot, 'dist', 'loader', 'index.js');

// A legacy object through a skeleton (maps raw, programs by name); libbpf-style objects through
// theirs are the samples' (test/samples/libbpfSamples.test.ts).
describe('skeleton: loadSkeleton against the kernel', () => {
  it('loads a legacy object built with -g through its generated description: maps and programs by name', async function () {
    requireKernel(this);
    const path = fixturePath('debuginfo_g_kern.o');
    const text = generateSkeleton(fixtureBytes('debuginfo_g_kern.o'), { objectPath: path, importFrom: LIBRARY });
    const description = JSON.parse(/export const skeleton = (\{[\s\S]*?\n\}) as const;/.exec(text)![1]!) as Parameters<typeof loadSkeleton>[1];
    expect(description.maps).to.deep.equal({ proto_bytes: 'raw', seen_lengths: 'raw' });
    const obj = await loadSkeleton<{ proto_bytes: { lookup(k: Buffer): Buffer | undefined } }, object, 'count_bytes'>(path, description);
    try {
      expect(obj.programs.count_bytes.fd).to.be.a('number');
      expect(obj.maps.proto_bytes.lookup(Buffer.alloc(4))).to.deep.equal(Buffer.alloc(8));
    } finally {
      obj.close();
    }
  });
});

describe('skeleton: variables set before the load through loadSkeleton', () => {
  it('a struct variable given as an object is encoded by its BTF type; numbers and strings as they are', async function () {
    requireKernel(this);
    const path = fixturePath('modern/globals.bpf.o');
    const text = generateSkeleton(fixtureBytes('modern/globals.bpf.o'), { objectPath: path, importFrom: LIBRARY });
    const description = JSON.parse(/export const skeleton = (\{[\s\S]*?\n\}) as const;/.exec(text)![1]!) as Parameters<typeof loadSkeleton>[1];
    type V = { [name: string]: { get(): unknown } };
    const obj = await loadSkeleton<object, V, string>(path, description, {
      variables: { last: { pid: 5, tgid: 6, comm: 'skel' }, step: 3n, greeting: 'hi' },
    });
    try {
      expect(obj.variables['last']!.get()).to.deep.equal({ pid: 5, tgid: 6, comm: 'skel' });
      expect(obj.variables['step']!.get()).to.equal(3n);
      expect(obj.variables['greeting']!.get()).to.equal('hi');
    } finally {
      obj.close();
    }
  });
});

describe('skeleton: record types decode what a program sends through a ring buffer and a perf event array', () => {
  it("typed_values.bpf.o's struct event, from both, as skel.records.event", async function () {
    requireKernel(this);
    requireTracefs(this);
    const path = fixturePath('modern/typed_values.bpf.o');
    const text = generateSkeleton(fixtureBytes('modern/typed_values.bpf.o'), { objectPath: path, importFrom: LIBRARY, types: ['struct event'] });
    const description = JSON.parse(/export const skeleton = (\{[\s\S]*?\n\}) as const;/.exec(text)![1]!) as Parameters<typeof loadSkeleton>[1];
    type M = { ring: Parameters<typeof openRingBufferReader>[0]; perf: Parameters<typeof openPerfEventReader>[0] };
    // the program sends a record on each getppid() of this process (process.ppid asks the kernel each time)
    const skel = await loadSkeleton<M, object, string, { event: RecordType<Record<string, unknown>> }>(path, description, {
      variables: { target_tgid: process.pid }, attach: true,
    });
    try {
      const ring = openRingBufferReader(skel.maps.ring);
      const perf = openPerfEventReader(skel.maps.perf);
      try {
        for (let i = 0; i < 3; i++) void process.ppid;
        const comm = readFileSync('/proc/self/comm', 'utf8').trim().slice(0, 15);
        for (const reader of [ring, perf]) {
          const records = [await reader.read(), await reader.read(), await reader.read()];
          expect(records.map((r) => r!.data.length)).to.deep.equal(reader === ring ? [40, 40, 40] : [44, 44, 44]);
          expect(records.map((r) => skel.records.event.decode(r!.data))).to.deep.equal([1, 2, 3].map((seq) => ({
            pid: process.pid, seq, state: 7, comm, stamp: 0x1122334455667788n,
          })));
        }
      } finally {
        ring.close();
        perf.close();
      }
    } finally {
      skel.close();
    }
  });
});
