import { expect } from 'chai';
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadBpfFile, u32, u64 } from '../../loader/index.js';
import { createVethPair, type VethPair } from '../../samples/vethPair.js';
import { bpftoolBytes, bpftoolDump, bpftoolJson, bpftoolLinks } from '../support/bpftool.js';
import { freshPinRoot, removePinRoot } from '../support/bpffs.js';
import { fixturePath, repoRoot } from '../support/fixtures.js';
import { requireKernel, requireTool } from '../support/kernel.js';
import { CLI, sleep, startNode, type Running } from '../support/processes.js';
import { samplePath } from '../support/samples.js';
import { Prometheus, WRITE_SIZE_HISTOGRAM, freePort, parseExposition } from '../metrics/prometheus.js';

const XDP1_CONFIG = join(repoRoot, 'samples', 'xdp1.yaml');
const OPENMETRICS = 'application/openmetrics-text;version=1.0.0,text/plain;version=0.0.4;q=0.5';


/**
 * The map of this name a process holds, found from its fds (/proc/PID/fdinfo
 * says map_id): other developers' loads of the same object never match.
 */
function mapOfProcess(pid: number, name: string): number {
  for (const fd of readdirSync(`/proc/${pid}/fdinfo`)) {
    let info = '';
    try {
      info = readFileSync(`/proc/${pid}/fdinfo/${fd}`, 'utf8');
    } catch {
      continue; // closed meanwhile
    }
    const id = /^map_id:\s*(\d+)$/m.exec(info)?.[1];
    if (id && bpftoolJson<{ name: string }>('map', 'show', 'id', id).name === name.slice(0, 15)) return Number(id);
  }
  throw new Error(`process ${pid} holds no map '${name}'`);
}

/** Per key, the sum of a per-CPU u64 map's values, as bpftool reads them. */
function bpftoolTotals(mapId: number): Map<string, number> {
  const totals = new Map<string, number>();
  for (const entry of bpftoolDump(mapId)) {
    const sum = entry.values!.reduce((acc, v) => acc + Number(bpftoolBytes(v.value).readBigUInt64LE(0)), 0);
    totals.set(bpftoolBytes(entry.key).toString('hex'), sum);
  }
  return totals;
}

/** The id of the XDP program on an interface, as ip link shows it; undefined when there is none. */
function xdpProgOf(ifname: string): number | undefined {
  const link = (JSON.parse(spawnSync('ip', ['-j', 'link', 'show', ifname], { encoding: 'utf8' }).stdout) as { xdp?: { prog?: { id: number } } }[])[0];
  return link?.xdp?.prog?.id;
}

function startMetrics(args: string[]): Running {
  return startNode([CLI, 'metrics', ...args]);
}

/** Poll an async probe until `condition` holds. */
async function waitUntil(what: () => string, condition: () => boolean, timeoutMs: number, intervalMs: number, probe: () => Promise<void>): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    await probe();
    if (condition()) return;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what()}`);
    await sleep(intervalMs);
  }
}

async function stopped(running: Running, signal: NodeJS.Signals): Promise<{ code: number | null; signal: NodeJS.Signals | null }> {
  running.child.kill(signal);
  return running.exited;
}

describe('cli: the metrics command in the parser (real processes, no kernel)', function () {
  this.timeout(60_000);
  const dir = mkdtempSync(join(tmpdir(), 'bpf-load-metrics-args-'));
  after(() => rmSync(dir, { recursive: true, force: true }));

  function cli(args: string[], env: NodeJS.ProcessEnv = {}): { status: number | null; stdout: string; stderr: string } {
    const result = spawnSync(process.execPath, [CLI, ...args], { encoding: 'utf8', timeout: 30_000, env: { ...process.env, ...env } });
    return { status: result.status, stdout: result.stdout, stderr: result.stderr };
  }

  it('--help lists it; metrics --help shows its options', () => {
    const help = cli(['--help']);
    expect(help.status).to.equal(0);
    expect(help.stdout).to.match(/^ {2}load-kern-object metrics \[file\] +serve FILE's maps/m);
    const own = cli(['metrics', '--help']);
    expect(own.status).to.equal(0);
    expect(own.stdout).to.match(/^load-kern-object metrics FILE --config CONFIG --listen HOST:PORT \[options\]$/m);
    for (const option of ['--config', '--listen', '--pinned', '--xdp', '--convention', '--pin', '--reuse-pinned', '--force', '--programs', '--type', '--log-level']) {
      expect(own.stdout).to.match(new RegExp(`^ {2}${option} `, 'm'));
    }
  });

  it('bad arguments are usage errors (exit 2, one line, nothing read): FILE or --pinned, one of the two; --pinned loads nothing', () => {
    const config = join(dir, 'absent.yaml');
    const object = fixturePath('xdp1_kern.o');
    const cases: [string[], RegExp][] = [
      [['metrics', '--config', config, '--listen', ':9'], /metrics takes an object FILE or --pinned DIR \(one of the two\)/],
      [['metrics', object, '--pinned', dir, '--config', config, '--listen', ':9'], /metrics takes an object FILE or --pinned DIR \(one of the two\)/],
      [['metrics', '--pinned', dir, '--xdp', 'lo', '--pin', dir, '--config', config, '--listen', ':9'], /--pinned DIR loads and attaches nothing: it takes no --pin, --xdp/],
      [['metrics', '--pinned', dir, '--convention', 'tc', '--config', config, '--listen', ':9'], /--pinned DIR loads and attaches nothing: it takes no --convention/],
      [['metrics', object, '--listen', ':9'], /Missing required argument: config/],
      [['metrics', object, '--config', config], /Missing required argument: listen/],
      [['metrics', object, '--config', config, '--listen', 'localhost'], /--listen takes HOST:PORT \(e\.g\. 127\.0\.0\.1:9435, \[::1\]:9435 or :9435\), not 'localhost'/],
      [['metrics', object, '--config', config, '--listen', ':70000'], /--listen takes HOST:PORT .*not ':70000'/],
      [['metrics', object, '--config', config, '--listen', ':9', '--xdp', ':xdp_prog1'], /--xdp takes IFNAME\[:PROGRAM\], not ':xdp_prog1'/],
      [['metrics', object, '--config', config, '--listen', ':9', '--force'], /--force needs --pin DIR or --convention tc/],
    ];
    for (const [args, message] of cases) {
      const result = cli(args);
      expect(result.status, args.join(' ')).to.equal(2);
      expect(result.stdout, args.join(' ')).to.equal('');
      expect(result.stderr.trim().split('\n'), args.join(' ')).to.have.length(1);
      expect(result.stderr, args.join(' ')).to.match(/^load-kern-object metrics: /);
      expect(result.stderr, args.join(' ')).to.match(message);
      expect(result.stderr, args.join(' ')).to.match(/\(see load-kern-object metrics --help\)$/m);
    }
  });

  it('prom-client and yaml stay out of the shell bundle, --help and the other commands: only metrics loads them, when it runs', () => {
    const shell = readFileSync(join(repoRoot, 'dist', 'load-kern-object.cjs'), 'utf8');
    expect(shell).to.not.include('prom-client');
    expect(shell).to.not.match(/["']yaml["']/);
    // a preload that writes, at exit, every CommonJS module the process required
    const preload = join(dir, 'modules.cjs');
    const list = join(dir, 'modules.json');
    writeFileSync(preload, `process.on('exit', () => require('node:fs').writeFileSync(${JSON.stringify(list)}, JSON.stringify(Object.keys(require.cache))));\n`);
    const loaded = (args: string[]): string[] => {
      rmSync(list, { force: true });
      cli(args, { NODE_OPTIONS: `--require ${preload}` });
      return JSON.parse(readFileSync(list, 'utf8')) as string[];
    };
    const metricPackages = (modules: string[]) => modules.filter((m) => /node_modules\/(prom-client|yaml)\//.test(m));
    for (const args of [['--help'], ['metrics', '--help'], ['dump', '--help'], ['--version'], ['--dry-run', fixturePath('xdp1_kern.o')]]) {
      const modules = loaded(args);
      expect(modules.some((m) => m.endsWith('load-kern-object.cjs')), args.join(' ')).to.equal(true);
      expect(metricPackages(modules), args.join(' ')).to.deep.equal([]);
    }
    // the command itself: a config it cannot read is refused after yaml was needed to read it
    const config = join(dir, 'bad.yaml');
    writeFileSync(config, 'metrics: [');
    const modules = loaded(['metrics', fixturePath('xdp1_kern.o'), '--config', config, '--listen', '127.0.0.1:9']);
    expect(modules.some((m) => m.endsWith('load-kern-object-metrics.cjs'))).to.equal(true);
    expect(metricPackages(modules).some((m) => m.includes('node_modules/yaml/'))).to.equal(true);
  });
});

describe('cli: metrics, scraped by a real Prometheus (real processes)', function () {
  this.timeout(120_000);
  const dir = mkdtempSync(join(tmpdir(), 'bpf-load-metrics-cli-'));
  const running: Running[] = [];
  const prometheuses: Prometheus[] = [];

  before(function () {
    requireKernel(this);
    requireTool(this, 'bpftool');
    requireTool(this, 'prometheus');
  });

  afterEach(async () => {
    for (const child of running.splice(0)) if (child.child.exitCode === null && child.child.signalCode === null) child.child.kill('SIGKILL');
    for (const prometheus of prometheuses.splice(0)) await prometheus.stop();
  });

  after(() => rmSync(dir, { recursive: true, force: true }));

  describe('xdp1 on a veth pair in a network namespace of its own', () => {
    const namespace = `bpfload-metrics-${process.pid}`;
    const host = `bpm${process.pid % 100000}`;
    let pair: VethPair | undefined;

    before(function () {
      requireTool(this, 'ip');
      pair = createVethPair({ namespace, host, subnet: 197 });
    });

    after(() => pair?.remove());

    it('Prometheus stores the per-protocol counters bpftool reads from the map; SIGINT detaches and exits 0', async () => {
      const port = await freePort();
      const metrics = startMetrics([fixturePath('xdp1_kern.o'), '--config', XDP1_CONFIG, '--listen', `127.0.0.1:${port}`, '--xdp', host]);
      running.push(metrics);
      await metrics.waitFor(/press Ctrl-C/);
      expect(metrics.stdout()).to.include(`attached: xdp_prog1 -> xdp ${host}`);
      const prometheus = await Prometheus.start([`127.0.0.1:${port}`]);
      prometheuses.push(prometheus);
      pair!.sendUdp(7);
      const progId = xdpProgOf(host);
      expect(progId, 'ip link show: the XDP program').to.be.a('number');
      expect(bpftoolLinks().filter((l) => l.prog_id === progId)).to.have.length(1);
      const mapId = mapOfProcess(metrics.child.pid!, 'rxcnt');
      // the traffic has stopped: what bpftool reads now is what the next scrape must store
      const totals = bpftoolTotals(mapId);
      const udp = totals.get('11000000')!;
      expect(udp).to.be.at.least(7);
      await prometheus.waitFor('ebpf_exporter_rxcnt_total{proto="udp"}', (s) => s.length === 1 && Number(s[0]!.value[1]) === udp);
      const names: Record<number, string> = { 1: 'icmp', 6: 'tcp', 17: 'udp', 58: 'icmpv6' };
      const read = (): Map<string, number> => new Map([...bpftoolTotals(mapId)].map(([key, total]) => {
        const proto = Buffer.from(key, 'hex').readUInt32LE(0);
        return [names[proto] ?? String(proto), total];
      }));
      // the veth's own IPv6 (neighbour discovery, router solicitations) may still count between a scrape
      // and bpftool's read: wait until Prometheus has stored a scrape of the map as bpftool reads it
      let stored: Map<string, number> = new Map();
      let expected = read();
      await waitUntil(() => `Prometheus to store what bpftool reads (${JSON.stringify([...expected])}; stored ${JSON.stringify([...stored])})`,
        () => stored.size === 256 && JSON.stringify([...stored].sort()) === JSON.stringify([...expected].sort()), 60_000, 1000, async () => {
          stored = new Map((await prometheus.query('ebpf_exporter_rxcnt_total')).map((s) => [s.metric['proto']!, Number(s.value[1])]));
          expected = read();
        });
      expect(stored).to.deep.equal(expected);
      expect((await prometheus.query('up{job="bpf"}'))[0]!.value[1]).to.equal('1');

      expect(await stopped(metrics, 'SIGINT')).to.deep.equal({ code: 0, signal: null });
      expect(bpftoolLinks().filter((l) => l.prog_id === progId), 'bpftool link show').to.deep.equal([]);
      expect(xdpProgOf(host)).to.equal(undefined);
    });

    it('bad configs are refused by name with exit 2, before anything is loaded or bound', async () => {
      const port = await freePort();
      const bad: [string, string, RegExp][] = [
        ['unknown-decoder.yaml', readFileSync(XDP1_CONFIG, 'utf8').replace('- name: uint', '- name: uint32'),
          /^load-kern-object metrics: .*unknown-decoder\.yaml: counter 'rxcnt': label 'proto': unknown decoder 'uint32' \(decoders: uint, hex,/],
        ['key-size.yaml', readFileSync(XDP1_CONFIG, 'utf8').replace('size: 4', 'size: 8').replace('- name: uint\n', '- name: hex\n'),
          /^load-kern-object metrics: .*key-size\.yaml: counter 'rxcnt': label 'proto': the labels' sizes \(proto 8\) add up to 8 bytes, the key of map 'rxcnt' is 4$/m],
        ['no-map.yaml', readFileSync(XDP1_CONFIG, 'utf8').replace('name: rxcnt', 'name: txcnt'),
          /^load-kern-object metrics: .*no-map\.yaml: counter 'txcnt': reads the map of the same name, and there is none \(maps: rxcnt\)$/m],
      ];
      for (const [name, text, message] of bad) {
        writeFileSync(join(dir, name), text);
        const result = spawnSync(process.execPath, [CLI, 'metrics', fixturePath('xdp1_kern.o'), '--config', join(dir, name), '--listen', `127.0.0.1:${port}`, '--xdp', host], {
          encoding: 'utf8', timeout: 60_000,
        });
        expect(result.status, result.stderr).to.equal(2);
        expect(result.stderr.trim().split('\n'), name).to.have.length(1);
        expect(result.stderr).to.match(message);
        expect(result.stdout).to.equal('');
        expect(xdpProgOf(host)).to.equal(undefined);
      }
      // a bad --listen is an argument too; a port in use is the system's refusal (exit 1), and nothing is loaded either way
      const badListen = spawnSync(process.execPath, [CLI, 'metrics', fixturePath('xdp1_kern.o'), '--config', XDP1_CONFIG, '--listen', 'localhost'], { encoding: 'utf8' });
      expect(badListen.status).to.equal(2);
      expect(badListen.stderr).to.match(/--listen takes HOST:PORT \(e\.g\. 127\.0\.0\.1:9435, \[::1\]:9435 or :9435\), not 'localhost'/);
      const holder = createServer().listen(port, '127.0.0.1');
      await new Promise((resolve) => holder.once('listening', resolve));
      try {
        const busy = await new Promise<{ status: number | null; stderr: string }>((resolve) => {
          const child = spawn(process.execPath, [CLI, 'metrics', fixturePath('xdp1_kern.o'), '--config', XDP1_CONFIG, '--listen', `127.0.0.1:${port}`, '--xdp', host]);
          let stderr = '';
          child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
          child.once('close', (status) => resolve({ status, stderr }));
        });
        expect(busy.status).to.equal(1);
        expect(busy.stderr).to.match(new RegExp(`cannot listen on 127\\.0\\.0\\.1:${port}: EADDRINUSE \\(another process serves that port\\)`));
        expect(xdpProgOf(host)).to.equal(undefined);
      } finally {
        holder.close();
      }
    });
  });

  it("an ebpf_exporter histogram config works unchanged: Prometheus stores the buckets bpftool reads; scrapes in parallel stay consistent; SIGTERM exits 0", async () => {
    const config = join(dir, 'writesize.yaml');
    writeFileSync(config, WRITE_SIZE_HISTOGRAM);
    const port = await freePort();
    const metrics = startMetrics([fixturePath('writesize_kern.o'), '--config', config, '--listen', `127.0.0.1:${port}`]);
    running.push(metrics);
    await metrics.waitFor(/press Ctrl-C/);
    expect(metrics.stdout()).to.include('attached: write_size -> tracepoint syscalls/sys_enter_write');
    const prometheus = await Prometheus.start([`127.0.0.1:${port}`]);
    prometheuses.push(prometheus);

    // a process whose writes are known, and which is gone before we compare: its series stop changing
    const writer = spawnSync(process.execPath, ['-e', `
      const fs = require('node:fs');
      const fd = fs.openSync('/dev/null', 'w');
      for (const size of [1, 100, 100, 100, 5000, 5000, 70000]) fs.writeSync(fd, Buffer.alloc(size));
      process.stdout.write(String(process.pid));
    `], { encoding: 'utf8' });
    const pid = Number(writer.stdout);
    const mapId = mapOfProcess(metrics.child.pid!, 'write_size_bytes');
    const buckets = new Map<number, number>();
    for (const [key, total] of bpftoolTotals(mapId)) {
      const raw = Buffer.from(key, 'hex');
      if (raw.readUInt32LE(0) === pid) buckets.set(raw.readUInt32LE(4), total);
    }
    // the writes we made, each in its power-of-two bucket (node's own writes may add to others)
    expect(buckets.get(7)).to.be.at.least(3); // 100 bytes: le 128
    expect(buckets.get(13)).to.be.at.least(2); // 5000: le 8192
    expect(buckets.get(17)).to.be.at.least(1); // 70000: le 131072
    const count = [...buckets].filter(([b]) => b <= 20).reduce((sum, [, n]) => sum + n, 0);
    await prometheus.waitFor(`ebpf_exporter_write_size_bytes_count{pid="${pid}"}`, (s) => s.length === 1 && Number(s[0]!.value[1]) === count);
    const stored = await prometheus.query(`ebpf_exporter_write_size_bytes_bucket{pid="${pid}"}`);
    const byLe = new Map(stored.map((s) => [s.metric['le']!, Number(s.value[1])]));
    let cumulative = 0;
    for (let bucket = 0; bucket <= 20; bucket++) {
      cumulative += buckets.get(bucket) ?? 0;
      expect(byLe.get(String(2 ** bucket)), `le ${2 ** bucket}`).to.equal(cumulative);
    }
    expect(byLe.get('+Inf')).to.equal(count);
    const sum = await prometheus.query(`ebpf_exporter_write_size_bytes_sum{pid="${pid}"}`);
    expect(Number(sum[0]!.value[1])).to.equal(buckets.get(21));

    // many scrapes at once while the map changes (every write on the machine lands in it)
    const url = `http://127.0.0.1:${port}/metrics`;
    let previousMax = new Map<string, number>();
    for (let round = 0; round < 8; round++) {
      const bodies = await Promise.all(Array.from({ length: 16 }, (_, i) =>
        fetch(url, i % 2 ? { headers: { accept: OPENMETRICS } } : {}).then(async (r) => {
          expect(r.status).to.equal(200);
          expect(r.headers.get('content-type')).to.match(i % 2 ? /^application\/openmetrics-text; version=1\.0\.0/ : /^text\/plain; version=0\.0\.4/);
          return r.text();
        })));
      const roundMin = new Map<string, number>();
      const roundMax = new Map<string, number>();
      for (const body of bodies) {
        const samples = parseExposition(body).filter((s) => s.name.startsWith('ebpf_exporter_write_size_bytes'));
        const byPid = new Map<string, { le: number[]; inf: number; count: number }>();
        for (const s of samples) {
          const p = s.labels['pid']!;
          const entry = byPid.get(p) ?? { le: [], inf: -1, count: -1 };
          byPid.set(p, entry);
          if (s.name.endsWith('_bucket')) {
            if (s.labels['le'] === '+Inf') entry.inf = s.value;
            else entry.le.push(s.value);
          } else if (s.name.endsWith('_count')) {
            entry.count = s.value;
          }
        }
        for (const [p, entry] of byPid) {
          // one scrape reads one walk: cumulative buckets never fall, +Inf is the count
          for (let i = 1; i < entry.le.length; i++) expect(entry.le[i]!).to.be.at.least(entry.le[i - 1]!);
          expect(entry.inf).to.equal(entry.count);
          expect(entry.le.at(-1)).to.equal(entry.count);
          roundMin.set(p, Math.min(roundMin.get(p) ?? Infinity, entry.count));
          roundMax.set(p, Math.max(roundMax.get(p) ?? 0, entry.count));
        }
      }
      // every scrape of this round began after every scrape of the last one ended: counts only grow
      for (const [p, max] of previousMax) if (roundMin.has(p)) expect(roundMin.get(p)!, `pid ${p} round ${round}`).to.be.at.least(max);
      previousMax = roundMax;
    }
    expect(await stopped(metrics, 'SIGTERM')).to.deep.equal({ code: 0, signal: null });
  });

  it('samples/xdp1_metrics --demo: a Node service serves the map on its own prom-client registry beside its own metrics', async () => {
    const port = await freePort();
    const sample = startNode([samplePath('xdp1_metrics'), '--demo', '--duration', '30', '--listen', `127.0.0.1:${port}`]);
    running.push(sample);
    await sample.waitFor(/metrics at http:/);
    let text = '';
    await waitUntil(() => `udp packets in ${text}`, () => /^ebpf_exporter_rxcnt\{proto="udp"\} [1-9]/m.test(text), 20_000, 500, async () => {
      text = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
    });
    expect(text).to.match(/^xdp1_metrics_scrapes_total [1-9]/m);
    expect(await stopped(sample, 'SIGINT')).to.deep.equal({ code: 0, signal: null });
  });

  it('--pinned DIR serves maps another process loaded and pinned, loading nothing; their counts outlive the exporter', async () => {
    const pins = freshPinRoot('metrics');
    const object = await loadBpfFile(fixturePath('xdp1_kern.o'), { pinDir: pins });
    try {
      const rxcnt = object.map('rxcnt').perCpu(u32, u64);
      const cpus = object.map('rxcnt').possibleCpus;
      rxcnt.update(17, Array.from({ length: cpus }, () => 3n));
      const port = await freePort();
      const metrics = startMetrics(['--pinned', pins, '--config', XDP1_CONFIG, '--listen', `127.0.0.1:${port}`]);
      running.push(metrics);
      await metrics.waitFor(/press Ctrl-C/);
      expect(metrics.stdout()).to.include(`serving the metrics of the maps pinned in ${pins}`);
      expect(metrics.stdout()).to.include('attached: nothing');
      const text = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
      expect(text).to.match(new RegExp(`^ebpf_exporter_rxcnt\\{proto="udp"\\} ${3 * cpus}$`, 'm'));
      expect(await stopped(metrics, 'SIGINT')).to.deep.equal({ code: 0, signal: null });
      // the pinned map and its counts are untouched by the exporter's exit
      expect(rxcnt.lookup(17)!.reduce((a, b) => a + b, 0n)).to.equal(BigInt(3 * cpus));
      const missing = spawnSync(process.execPath, [CLI, 'metrics', '--pinned', join(pins, 'nothing'), '--config', XDP1_CONFIG, '--listen', `127.0.0.1:${port}`], { encoding: 'utf8' });
      expect(missing.status).to.equal(2);
      expect(missing.stderr).to.match(/counter|metric 'rxcnt': no map pinned at .*nothing\/maps\/rxcnt or .*nothing\/rxcnt/);
    } finally {
      object.close();
      removePinRoot(pins);
    }
  });
});
