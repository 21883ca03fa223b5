import { expect } from 'chai';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import ts from 'typescript';
import * as api from '../../loader/index.js';
import { repoRoot } from '../support/fixtures.js';

/**
 * The public API is what loader/index.ts exports, values and types. It is
 * held in test/unit/publicApi.txt so that adding or removing a name is a
 * deliberate change: after one, rewrite the file with
 *   BPF_LOAD_UPDATE_API=1 npx mocha dist/test/unit/publicApi.test.js
 * and commit it with the change.
 */
const SNAPSHOT = join(repoRoot, 'test', 'unit', 'publicApi.txt');

function exportedNames(): string[] {
  const entry = join(repoRoot, 'loader', 'index.ts');
  const program = ts.createProgram([entry], {
    module: ts.ModuleKind.Node16, moduleResolution: ts.ModuleResolutionKind.Node16, target: ts.ScriptTarget.ES2022,
    strict: true, noEmit: true, skipLibCheck: true, types: ['node'],
  });
  const checker = program.getTypeChecker();
  const module = checker.getSymbolAtLocation(program.getSourceFile(entry)!)!;
  return checker.getExportsOfModule(module).map((symbol) => {
    const target = symbol.flags & ts.SymbolFlags.Alias ? checker.getAliasedSymbol(symbol) : symbol;
    const isValue = (target.flags & ts.SymbolFlags.Value) !== 0;
    return `${isValue ? 'value' : 'type '} ${symbol.name}`;
  }).sort();
}

describe('public API: what bpf-load exports', () => {
  it('is the list in test/unit/publicApi.txt', function () {
    this.timeout(60_000);
    const names = exportedNames();
    if (process.env['BPF_LOAD_UPDATE_API'] === '1') writeFileSync(SNAPSHOT, `${names.join('\n')}\n`);
    const held = readFileSync(SNAPSHOT, 'utf8').trim().split('\n');
    expect(names, 'the exports changed: update test/unit/publicApi.txt if that is meant').to.deep.equal(held);
  });

  it('exports at run time every value the list names, and nothing else', () => {
    const held = readFileSync(SNAPSHOT, 'utf8').trim().split('\n').filter((l) => l.startsWith('value ')).map((l) => l.slice(6));
    expect(Object.keys(api).sort()).to.deep.equal(held.sort());
  });
});
