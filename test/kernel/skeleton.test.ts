import { expect } from 'chai';
import { generateSkeleton } from '../../loader/skeleton/generate.js';
import { loadSkeleton } from '../../loader/skeleton/loadSkeleton.js';
import { fixtureBytes, fixturePath, repoRoot } from '../support/fixtures.js';
import { requireKernel } from '../support/kernel.js';
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
