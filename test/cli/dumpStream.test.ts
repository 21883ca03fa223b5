import { expect } from 'chai';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { BpfMap } from '../../loader/maps/bpfMap.js';
import { u32, u64 } from '../../loader/maps/codecs.js';
import { BPF_MAP_TYPE, mapCreate } from '../../syscall/index.js';
import { freshPinRoot, removePinRoot } from '../support/bpffs.js';
import { CLI, startNode } from '../support/processes.js';
import { requireKernel } from '../support/kernel.js';


function hashMap(type: number, entries: number, name: string): BpfMap {
  return BpfMap.fromOwnedFd(mapCreate({ map_type: type, key_size: 4, value_size: 8, max_entries: entries, map_flags: 0, map_name: name }));
}

function dump(...args: string[]): { status: number | null; stdout: string; stderr: string } {
  return spawnSync(process.execPath, [CLI, 'dump', ...args], { encoding: 'utf8', maxBuffer: 256 << 20, timeout: 60_000 });
}

const COUNT = 30_000;

describe('cli: dump streams big maps', function () {
  let root: string | undefined;
  let map: BpfMap | undefined;
  let path = '';
  before(function () {
    requireKernel(this);
    root = freshPinRoot('dump_stream');
    map = hashMap(BPF_MAP_TYPE.HASH, COUNT, 'big_flows');
    map.typed(u32, u64).updateBatch(Array.from({ length: COUNT }, (_, i) => [i * 7, BigInt(i) * 0x100000001n] as const));
    path = join(root, 'big_flows');
    map.pin(path);
  });
  after(() => {
    map?.close();
    removePinRoot(root);
  });

  it('--json over many written pieces is the same bytes as JSON.stringify of the whole, every entry once', () => {
    const child = dump(path, '--json', '--key', 'u32', '--value', 'u64');
    expect(child.status, child.stderr).to.equal(0);
    expect(child.stdout.length).to.be.greaterThan(4 * 64 * 1024);
    const parsed = JSON.parse(child.stdout) as { map: { max_entries: number }; entries: { key: number; value: string }[] };
    expect(child.stdout).to.equal(`${JSON.stringify(parsed, null, 2)}\n`);
    expect(parsed.map.max_entries).to.equal(COUNT);
    const seen = new Map(parsed.entries.map((e) => [e.key, e.value]));
    expect(seen.size).to.equal(COUNT);
    for (let i = 0; i < COUNT; i += 997) expect(seen.get(i * 7)).to.equal((BigInt(i) * 0x100000001n).toString());
  });

  it('text: a title line, one line per entry in walk order, then the count', () => {
    const child = dump(path);
    expect(child.status, child.stderr).to.equal(0);
    const lines = child.stdout.split('\n');
    expect(lines.pop()).to.equal('');
    expect(lines[0]).to.match(/big_flows: map 'big_flows' \(hash, id \d+, key 4, value 8, max_entries 30000, flags 0x0\):$/);
    expect(lines.at(-1)).to.equal(`${COUNT} entries`);
    const expected: string[] = [];
    map!.forEachRaw((key, value) => {
      expected.push(`key: ${[...key].map((b) => b.toString(16).padStart(2, '0')).join(' ')}  value: ${[...value].map((b) => b.toString(16).padStart(2, '0')).join(' ')}`);
    });
    expect(lines.slice(1, -1)).to.deep.equal(expected);
  });

  it('an empty map: "entries": [] in JSON, "0 entries" in text', () => {
    const empty = hashMap(BPF_MAP_TYPE.HASH, 4, 'empty_flows');
    try {
      const emptyPath = join(root!, 'empty_flows');
      empty.pin(emptyPath);
      const json = dump(emptyPath, '--json');
      expect(json.status, json.stderr).to.equal(0);
      const parsed = JSON.parse(json.stdout) as { entries: unknown[] };
      expect(parsed.entries).to.deep.equal([]);
      expect(json.stdout).to.equal(`${JSON.stringify(parsed, null, 2)}\n`);
      expect(dump(emptyPath).stdout.trim().split('\n').at(-1)).to.equal('0 entries');
    } finally {
      empty.close();
    }
  });

  it('a reader that stops early (| head) ends the dump quietly with exit 1', () => {
    const child = spawnSync('bash', ['-c', `set -o pipefail; "${process.execPath}" "${CLI}" dump "${path}" | head -n 3`], {
      encoding: 'utf8',
      timeout: 60_000,
    });
    expect(child.stdout.split('\n').filter((l) => l !== '')).to.have.length(3);
    expect(child.stderr).to.equal('');
    // the writer saw EPIPE: the dump stopped with the output (exit 1), not a crash (70)
    expect(child.status).to.equal(1);
  });

  describe('a map of 1M entries', function () {
    this.timeout(120_000);
    const MILLION = 1 << 20;
    let million: BpfMap | undefined;
    let millionPath = '';
    before(function () {
      million = hashMap(BPF_MAP_TYPE.HASH, MILLION, 'million');
      millionPath = join(root!, 'million');
      million.pin(millionPath);
      const batch = 1 << 16;
      const typed = million.typed(u32, u64);
      for (let start = 0; start < MILLION; start += batch) {
        typed.updateBatch(Array.from({ length: batch }, (_, i) => [start + i, BigInt(start + i)] as const));
      }
    });
    after(() => {
      million?.close();
    });

    it('Ctrl-C or SIGTERM stops its dump at once: exit 130 / 143, what was written so far, and a line that says so', async () => {
      for (const [signal, status] of [['SIGINT', 130], ['SIGTERM', 143]] as const) {
        const running = startNode([CLI, 'dump', millionPath]);
        // the walk has started: a million lines take seconds to print, so most of them are still to come
        await running.waitFor(/^key: /m);
        running.child.kill(signal);
        const { code } = await running.exited;
        expect(code, running.stderr()).to.equal(status);
        expect(running.stderr()).to.match(new RegExp(`^load-kern-object dump: interrupted by ${signal} after \\d+ entries; the output is incomplete\\n$`));
        const lines = running.stdout().split('\n').filter((line) => line.startsWith('key: '));
        expect(lines.length).to.be.greaterThan(0).and.below(MILLION / 2);
        // what was written is whole lines, and no count line: the output says it did not finish
        expect(running.stdout().endsWith('\n')).to.equal(true);
        expect(running.stdout()).to.not.match(/entries$/m);
      }
    });

    it('peak memory of its --json dump stays far below what holding the map would take', () => {
      const mainUrl = new URL('../../loader/cli/main.js', import.meta.url).href;
      const script =
        `const { main } = await import(${JSON.stringify(mainUrl)});` +
        `process.exitCode = await main(process.argv.slice(1));` +
        `process.stderr.write('maxrss ' + process.resourceUsage().maxRSS + '\\n');`;
      const child = spawnSync(process.execPath, ['--input-type=module', '-e', script, '--', 'dump', millionPath, '--json'], {
        encoding: 'utf8',
        stdio: ['ignore', 'ignore', 'pipe'],
        timeout: 110_000,
      });
      expect(child.status, child.stderr).to.equal(0);
      const kb = Number(/maxrss (\d+)/.exec(child.stderr)?.[1]);
      // the whole output is ~70 MB of text and the map 1M entries: a dump that kept either would pass 300 MB
      expect(kb / 1024, child.stderr).to.be.below(200);
    });
  });
});
