import { expect } from 'chai';
import { Registry } from 'prom-client';
import {
  DROPPED_SERIES_METRIC, loadBpfFile, parseMetricsConfig, registerMapMetrics, struct, u32, u64, type BpfObject,
} from '../../loader/index.js';
import { fixturePath } from '../support/fixtures.js';
import { requireKernel, requireTool } from '../support/kernel.js';
import { bpftoolBytes, bpftoolDump } from '../support/bpftool.js';
import { WRITE_SIZE_HISTOGRAM, parseExposition } from '../metrics/prometheus.js';

const RXCNT = parseMetricsConfig(`
metrics:
  counters:
    - name: rxcnt
      help: Packets seen by xdp1, by IP protocol
      labels:
        - name: proto
          size: 4
          decoders:
            - name: uint
            - name: static_map
              static_map: { '6': tcp, '17': udp }
              allow_unknown: true
`);

const WRITE_SIZES = parseMetricsConfig(WRITE_SIZE_HISTOGRAM);

describe('registerMapMetrics: a Node service puts BPF maps on its own prom-client registry', function () {
  let object: BpfObject | undefined;

  before(function () {
    requireKernel(this);
    requireTool(this, 'bpftool');
  });

  afterEach(() => {
    object?.close();
    object = undefined;
  });

  it("a per-CPU array's counters, summed over CPUs, as bpftool reads the map", async () => {
    object = await loadBpfFile(fixturePath('xdp1_kern.o'));
    const rxcnt = object.map('rxcnt').perCpu(u32, u64);
    const cpus = object.map('rxcnt').possibleCpus;
    rxcnt.update(17, Array.from({ length: cpus }, (_, cpu) => BigInt(cpu + 1)));
    rxcnt.update(6, Array.from({ length: cpus }, () => 5n));
    rxcnt.update(99, Array.from({ length: cpus }, (_, cpu) => (cpu === 0 ? 7n : 0n)));
    const registry = new Registry();
    const handle = registerMapMetrics(object, RXCNT, { registry });
    expect(handle.names).to.deep.equal(['ebpf_exporter_rxcnt']);
    const samples = parseExposition(await registry.metrics()).filter((s) => s.name === 'ebpf_exporter_rxcnt');
    expect(samples).to.have.length(256);
    // the oracle: bpftool's own reading of the map, per CPU, summed here
    const expected = new Map<string, number>();
    for (const entry of bpftoolDump(object.map('rxcnt').id)) {
      const proto = bpftoolBytes(entry.key).readUInt32LE(0);
      const total = entry.values!.reduce((sum, v) => sum + Number(bpftoolBytes(v.value).readBigUInt64LE(0)), 0);
      expected.set(proto === 17 ? 'udp' : proto === 6 ? 'tcp' : String(proto), total);
    }
    expect(new Map(samples.map((s) => [s.labels['proto']!, s.value]))).to.deep.equal(expected);
    expect(expected.get('udp')).to.equal((cpus * (cpus + 1)) / 2);
    expect(expected.get('99')).to.equal(7);
    // read on scrape: a change to the map shows at the next scrape, with no polling between
    rxcnt.update(17, Array.from({ length: cpus }, () => 100n));
    const again = parseExposition(await registry.metrics()).find((s) => s.labels['proto'] === 'udp');
    expect(again!.value).to.equal(100 * cpus);
    handle.unregister();
    expect(registry.getSingleMetric('ebpf_exporter_rxcnt')).to.equal(undefined);
  });

  it('a per-CPU log2 histogram: cumulative le buckets, +Inf, _count and the sum key, per label set', async () => {
    object = await loadBpfFile(fixturePath('writesize_kern.o'));
    const key = struct({ tgid: u32, bucket: u32 });
    const map = object.map('write_size_bytes').perCpu(key, u64);
    const cpus = object.map('write_size_bytes').possibleCpus;
    const onCpu = (cpu: number, n: bigint): bigint[] => Array.from({ length: cpus }, (_, c) => (c === cpu % cpus ? n : 0n));
    map.update({ tgid: 42, bucket: 0 }, onCpu(0, 1n));
    map.update({ tgid: 42, bucket: 3 }, onCpu(1, 4n));
    map.update({ tgid: 42, bucket: 21 }, onCpu(0, 37n)); // the sum key: bucket_max + 1
    map.update({ tgid: 7, bucket: 20 }, onCpu(1, 2n));
    const registry = new Registry();
    registerMapMetrics(object, WRITE_SIZES, { registry, namespace: 'node' });
    const samples = parseExposition(await registry.metrics());
    const of = (name: string, pid: string) => samples.filter((s) => s.name === name && s.labels['pid'] === pid);
    const buckets42 = of('node_write_size_bytes_bucket', '42');
    expect(buckets42).to.have.length(22); // le 1, 2, 4 … 2^20, +Inf
    expect(buckets42.map((s) => s.labels['le'])).to.deep.equal([...Array.from({ length: 21 }, (_, i) => String(2 ** i)), '+Inf']);
    expect(buckets42.map((s) => s.value)).to.deep.equal([1, 1, 1, ...Array.from({ length: 18 }, () => 5), 5]);
    expect(of('node_write_size_bytes_count', '42')[0]!.value).to.equal(5);
    expect(of('node_write_size_bytes_sum', '42')[0]!.value).to.equal(37);
    expect(of('node_write_size_bytes_bucket', '7').at(-2)!.value).to.equal(2);
    expect(of('node_write_size_bytes_bucket', '7')[19]!.value).to.equal(0);
  });

  it('max_series caps a metric and counts what it dropped; a cpu label splits per-CPU values', async () => {
    object = await loadBpfFile(fixturePath('xdp1_kern.o'));
    const capped = parseMetricsConfig(`
metrics:
  counters:
    - name: rxcnt
      help: capped
      max_series: 10
      labels:
        - { name: proto, size: 4, decoders: [{ name: uint }] }
        - { name: cpu, size: 2, decoders: [{ name: uint }] }
`);
    const registry = new Registry();
    registerMapMetrics(object, capped, { registry });
    const samples = parseExposition(await registry.metrics());
    expect(samples.filter((s) => s.name === 'ebpf_exporter_rxcnt').map((s) => `${s.labels['proto']}/${s.labels['cpu']}`).slice(0, 1)).to.deep.equal(['0/0']);
    expect(samples.filter((s) => s.name === 'ebpf_exporter_rxcnt')).to.have.length(10);
    const cpus = object.map('rxcnt').possibleCpus;
    const dropped = samples.find((s) => s.name === DROPPED_SERIES_METRIC && s.labels['reason'] === 'max_series');
    expect(dropped!.value).to.equal(256 * cpus - 10);
  });

  it('a bad config against the maps registers nothing; maps by name and OpenMetrics work too', async () => {
    object = await loadBpfFile(fixturePath('xdp1_kern.o'));
    const registry = new Registry();
    const wrong = parseMetricsConfig(`
metrics:
  counters:
    - { name: rxcnt, help: h, labels: [{ name: proto, size: 8, decoders: [{ name: uint }] }] }
`, 'wrong.yaml');
    expect(() => registerMapMetrics(object!, wrong, { registry, source: 'wrong.yaml' })).to.throw(
      "wrong.yaml: counter 'rxcnt': label 'proto': the labels' sizes (proto 8) add up to 8 bytes, the key of map 'rxcnt' is 4",
    );
    expect(registry.getMetricsAsArray()).to.have.length(0);
    const open = new Registry();
    open.setContentType(Registry.OPENMETRICS_CONTENT_TYPE as never);
    registerMapMetrics({ rxcnt: object.map('rxcnt') }, RXCNT, { registry: open });
    const text = await open.metrics();
    expect(text).to.match(/^ebpf_exporter_rxcnt_total\{proto="udp"\} 0$/m);
    expect(text.endsWith('# EOF\n')).to.equal(true);
  });
});
