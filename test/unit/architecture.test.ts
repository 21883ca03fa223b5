import { expect } from 'chai';
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative, resolve, sep } from 'node:path';
import ts from 'typescript';
import { repoRoot } from '../support/fixtures.js';

/**
 * The layout's rules, read from the sources' imports (type-only ones too):
 * uapi/ (the kernel's numbers and layouts) is a leaf that imports nothing,
 * elf/ is pure (uapi/ and the ELF reader package only), syscall/ knows no ELF
 * and no loader,
 * loader/'s parts import only the parts below them, nothing imports the CLI,
 * samples use only the public API, a map's views and walk engine never reach
 * up to its handle, and no module imports itself round a cycle.
 */

/** loader/'s parts, lowest first: a part may import its own modules and those of the parts before it. */
const LOADER_PARTS = ['base', 'bpffs', 'maps', 'btf', 'programs', 'attach', 'events', 'pinning', 'share', 'load', 'metrics', 'skeleton', 'cli'] as const;
/** the few modules loose in loader/ that every part may use */
const LOADER_BASE = new Set(['loader/errors.ts', 'loader/options.ts', 'loader/cleanup.ts']);
const PUBLIC_BARREL = 'loader/index.ts';
const SOURCE_ROOTS = ['uapi', 'elf', 'syscall', 'loader', 'samples', 'bench'];

interface Edge {
  from: string;
  to: string;
}

function sourceFiles(directory: string): string[] {
  const found: string[] = [];
  for (const entry of readdirSync(join(repoRoot, directory), { withFileTypes: true })) {
    const path = join(directory, entry.name);
    if (entry.isDirectory()) found.push(...sourceFiles(path));
    else if (/\.c?ts$/.test(entry.name) && !entry.name.endsWith('.d.ts')) found.push(path.split(sep).join('/'));
  }
  return found;
}

/** The packages elf/ may use: the ELF container reader. */
const ELF_PACKAGES = new Set(['elfy']);

/** Every import, export-from and dynamic import of a file: relative ones resolved to repo paths, packages by name. */
function importsOf(file: string): { relative: string[]; packages: string[] } {
  const info = ts.preProcessFile(readFileSync(join(repoRoot, file), 'utf8'), true, true);
  const result = { relative: [] as string[], packages: [] as string[] };
  for (const { fileName } of info.importedFiles) {
    if (fileName.startsWith('.')) {
      const target = relative(repoRoot, resolve(repoRoot, dirname(file), fileName)).split(sep).join('/');
      result.relative.push(target.replace(/\.js$/, '.ts').replace(/\.cjs$/, '.cts'));
    } else {
      result.packages.push(fileName);
    }
  }
  return result;
}

function partOf(file: string): (typeof LOADER_PARTS)[number] | undefined {
  if (LOADER_BASE.has(file)) return 'base';
  const match = /^loader\/([^/]+)\//.exec(file);
  return match ? (LOADER_PARTS as readonly string[]).find((p) => p === match[1]) as (typeof LOADER_PARTS)[number] | undefined : undefined;
}

const files = SOURCE_ROOTS.flatMap(sourceFiles);
const edges: Edge[] = [];
const packagesOf = new Map<string, string[]>();
for (const file of files) {
  const { relative: targets, packages } = importsOf(file);
  for (const to of targets) edges.push({ from: file, to });
  packagesOf.set(file, packages);
}

function broken(rule: (edge: Edge) => boolean): string[] {
  return edges.filter(rule).map((e) => `${e.from} -> ${e.to}`);
}

describe('architecture: the import rules of the layout', () => {
  it('finds the sources it judges', () => {
    expect(files).to.include.members(['uapi/index.ts', 'elf/index.ts', 'syscall/index.ts', PUBLIC_BARREL, 'loader/cli/main.ts']);
    expect(edges.length).to.be.greaterThan(100);
  });

  it('every import names a file that exists', () => {
    const known = new Set(files);
    expect(edges.filter((e) => !known.has(e.to)).map((e) => `${e.from} -> ${e.to}`)).to.deep.equal([]);
  });

  it('uapi/ imports nothing outside itself: no module of ours, no package, not even node:*', () => {
    expect(broken((e) => e.from.startsWith('uapi/') && !e.to.startsWith('uapi/'))).to.deep.equal([]);
    const packages = files.filter((f) => f.startsWith('uapi/')).flatMap((f) => packagesOf.get(f)!.map((p) => `${f} -> ${p}`));
    expect(packages).to.deep.equal([]);
  });

  it('elf/ imports only itself and uapi/, and of packages only the ELF reader: not even node:*', () => {
    expect(broken((e) => e.from.startsWith('elf/') && !e.to.startsWith('elf/') && !e.to.startsWith('uapi/'))).to.deep.equal([]);
    const packages = files.filter((f) => f.startsWith('elf/'))
      .flatMap((f) => packagesOf.get(f)!.filter((p) => !ELF_PACKAGES.has(p)).map((p) => `${f} -> ${p}`));
    expect(packages).to.deep.equal([]);
  });

  it('syscall/ imports neither elf/ nor loader/ (uapi/ only)', () => {
    expect(broken((e) => e.from.startsWith('syscall/') && !e.to.startsWith('syscall/') && !e.to.startsWith('uapi/'))).to.deep.equal([]);
  });

  it('koffi is used only in syscall/ (and by the benchmark that measures its floor)', () => {
    const users = files.filter((f) => !f.startsWith('syscall/') && !f.startsWith('bench/') && packagesOf.get(f)!.includes('koffi'));
    expect(users).to.deep.equal([]);
  });

  it('every loader/ module is in a part (or one of the few loose ones)', () => {
    const loose = files.filter((f) => f.startsWith('loader/') && f !== PUBLIC_BARREL && partOf(f) === undefined);
    expect(loose).to.deep.equal([]);
  });

  it("loader/'s parts import only themselves and the parts below them", () => {
    const rank = (file: string) => LOADER_PARTS.indexOf(partOf(file)!);
    expect(
      broken((e) => e.from.startsWith('loader/') && e.to.startsWith('loader/') && e.from !== PUBLIC_BARREL && (
        e.to === PUBLIC_BARREL || rank(e.to) > rank(e.from) || (partOf(e.from) === 'base' && partOf(e.to) !== 'base')
      )),
    ).to.deep.equal([]);
  });

  it('maps/: the handle is above its views; the walk engine and batches know no codec and no view', () => {
    const under = ['mapCore', 'rawMap', 'typedMap', 'mapViews', 'mapWalk', 'mapBatch', 'mapInMap', 'mapPins'].map((m) => `loader/maps/${m}.ts`);
    expect(broken((e) => under.includes(e.from) && e.to === 'loader/maps/bpfMap.ts')).to.deep.equal([]);
    const engine = ['loader/maps/mapWalk.ts', 'loader/maps/mapBatch.ts'];
    const views = ['codecs', 'rawMap', 'typedMap', 'mapViews', 'btfCodec'].map((m) => `loader/maps/${m}.ts`);
    expect(broken((e) => engine.includes(e.from) && views.includes(e.to))).to.deep.equal([]);
  });

  it('nothing but the CLI imports the CLI', () => {
    expect(broken((e) => e.to.startsWith('loader/cli/') && !e.from.startsWith('loader/cli/'))).to.deep.equal([]);
  });

  it('samples use the public API only', () => {
    expect(broken((e) => e.from.startsWith('samples/') && !e.to.startsWith('samples/') && e.to !== PUBLIC_BARREL)).to.deep.equal([]);
  });

  it('no import cycles, type-only imports included', () => {
    const next = new Map<string, string[]>();
    for (const e of edges) next.set(e.from, [...(next.get(e.from) ?? []), e.to]);
    const cycles = stronglyConnected(files, (f) => next.get(f) ?? []).filter((c) => c.length > 1);
    expect(cycles.map((c) => c.sort().join(' <-> '))).to.deep.equal([]);
  });
});

/** Tarjan's strongly connected components. */
function stronglyConnected(nodes: readonly string[], next: (node: string) => readonly string[]): string[][] {
  const index = new Map<string, number>();
  const low = new Map<string, number>();
  const stack: string[] = [];
  const onStack = new Set<string>();
  const components: string[][] = [];
  let counter = 0;
  const visit = (node: string): void => {
    index.set(node, counter);
    low.set(node, counter);
    counter++;
    stack.push(node);
    onStack.add(node);
    for (const target of next(node)) {
      if (!index.has(target)) {
        visit(target);
        low.set(node, Math.min(low.get(node)!, low.get(target)!));
      } else if (onStack.has(target)) {
        low.set(node, Math.min(low.get(node)!, index.get(target)!));
      }
    }
    if (low.get(node) === index.get(node)) {
      const component: string[] = [];
      let member: string;
      do {
        member = stack.pop()!;
        onStack.delete(member);
        component.push(member);
      } while (member !== node);
      components.push(component);
    }
  };
  for (const node of nodes) if (!index.has(node)) visit(node);
  return components;
}
