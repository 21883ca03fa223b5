import { expect } from 'chai';
import { spawnSync } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { freshPinRoot, removePinRoot } from '../support/bpffs.js';
import { bpftoolJson, type BpftoolEntry } from '../support/bpftool.js';
import { fixturePath } from '../support/fixtures.js';
import { requireKernel, requireTool } from '../support/kernel.js';
import { CLI } from '../support/processes.js';

/** The load command's variables table and "variables" in --json, as a real process; bpftool reads the pinned data maps. */

const TYPED = fixturePath('modern/typed_values.bpf.o');

function cli(...args: string[]): { status: number | null; out: string; err: string } {
  const result = spawnSync(process.execPath, [CLI, ...args], { encoding: 'utf8' });
  return { status: result.status, out: result.stdout, err: result.stderr };
}

interface VariableRow {
  map: string;
  name: string;
  type: string;
  offset: number;
  size: number;
  value: unknown;
}

describe('cli: the variables of a libbpf-style object on load', function () {
  this.timeout(30000);

  it('--dry-run: the initial values by name and type, without privileges; none for a legacy object', () => {
    const run = cli('--dry-run', '--json', TYPED);
    expect(run.status, run.err).to.equal(0);
    const variables = (JSON.parse(run.out) as { variables: VariableRow[] }).variables;
    expect(variables.map((v) => [v.map, v.name, v.type, v.value])).to.deep.equal([
      ['typed_va.bss', 'sent', '__u64', 0],
      ['typed_va.bss', 'last', 'struct event', { pid: 0, seq: 0, state: 'STATE_IDLE', comm: '', stamp: 0 }],
      ['typed_va.data', 'label', 'char[12]', 'typed'],
      ['typed_va.data', 'mode', 'enum state', 'STATE_RUNNING'],
      ['typed_va.data', 'offset', '__s64', -5],
      ['typed_va.rodata', 'target_tgid', '__u32', 0],
    ]);
    const text = cli('--dry-run', TYPED);
    expect(text.out).to.match(/\nvariables \(6\):\nmap +name +type +value\n/);
    expect(text.out).to.match(/\ntyped_va\.data +mode +enum state +"STATE_RUNNING"\n/);
    const legacy = cli('--dry-run', '--json', fixturePath('socket_count_kern.o'));
    expect(JSON.parse(legacy.out)).not.to.have.property('variables');
    expect(cli('--dry-run', fixturePath('socket_count_kern.o')).out).not.to.contain('variables');
  });

  it('after a load: the values the kernel\'s maps hold, --set included, as bpftool formats them', function () {
    requireKernel(this);
    requireTool(this, 'bpftool');
    const root = freshPinRoot('variables');
    try {
      const dir = join(root, 'app');
      const run = cli(TYPED, '--json', '--pin', dir, '--set', 'target_tgid=4242', '--set', 'label=from-cli', '--set', 'offset=-9007199254740993');
      expect(run.status, run.err).to.equal(0);
      // a 64-bit value past 2**53 is written as its exact digits
      expect(run.out).to.contain('"value": -9007199254740993');
      const { variables, maps } = JSON.parse(run.out) as { variables: VariableRow[]; maps: { name: string; key_type?: string; value_type?: string }[] };
      // the maps' BTF types, as the kernel took them: none for a ring buffer or perf event array
      expect(maps.map((m) => [m.name, m.key_type ?? null, m.value_type ?? null])).to.deep.equal([
        ['per_cpu', '__u32', 'struct inner'], ['ring', null, null], ['perf', null, null], ['table', 'struct typed_key', 'struct typed_value'],
        ['typed_va.rodata', null, '.rodata'], ['typed_va.data', null, '.data'], ['typed_va.bss', null, '.bss'],
      ]);
      for (const suffix of ['rodata', 'data', 'bss']) {
        const pin = readdirSync(join(dir, 'maps')).find((name) => name.endsWith(`_${suffix}`))!;
        const oracle = bpftoolJson<BpftoolEntry[]>('map', 'dump', 'pinned', join(dir, 'maps', pin));
        const section = (oracle[0]!.formatted as { value: Record<string, Record<string, unknown>[]> }).value[`.${suffix}`]!;
        const ours = variables.filter((v) => v.map === `typed_va.${suffix}`).map((v) => ({ [v.name]: v.value }));
        expect(JSON.parse(JSON.stringify(ours))).to.deep.equal(section);
      }
      expect(variables.find((v) => v.name === 'target_tgid')?.value).to.equal(4242);
      expect(variables.find((v) => v.name === 'label')?.value).to.equal('from-cli');
    } finally {
      removePinRoot(root);
    }
  });
});
