import { expect } from 'chai';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { BPF_MAP_TYPE } from '../../syscall/index.js';
import { parseMetricsConfig, readMetricsConfig } from '../../loader/metrics/config.js';
import { DecoderSystem, SKIP, formatDname, formatIp, makeDecoder } from '../../loader/metrics/decoders.js';
import { checkMetricsAgainstMaps, upperBound } from '../../loader/metrics/mapMetrics.js';
import type { LoadError } from '../../loader/errors.js';
import { repoRoot } from '../support/fixtures.js';

const XDP1 = `
metrics:
  counters:
    - name: rxcnt
      help: packets by IP protocol
      labels:
        - name: proto
          size: 4
          decoders:
            - name: uint
`;

function refusal(text: string, source = 'c.yaml'): LoadError {
  try {
    parseMetricsConfig(text, source);
  } catch (error) {
    return error as LoadError;
  }
  throw new Error('the config was accepted');
}

describe('metrics config: ebpf_exporter format, checked before anything is loaded', () => {
  it('reads YAML and JSON alike, with defaults filled in', () => {
    const yaml = parseMetricsConfig(XDP1, 'x.yaml');
    const json = parseMetricsConfig(JSON.stringify({ metrics: { counters: [{ name: 'rxcnt', help: 'packets by IP protocol', labels: [{ name: 'proto', size: 4, decoders: [{ name: 'uint' }] }] }] } }), 'x.json');
    expect(json).to.deep.equal(yaml);
    expect(yaml.metrics.counters![0]!.labels![0]).to.deep.equal({ name: 'proto', size: 4, decoders: [{ name: 'uint' }] });
    expect(Object.isFrozen(yaml.metrics.counters![0])).to.equal(true);
  });

  it('refuses a bad config naming the file, the metric, the label and what is wrong (one golden message per kind)', () => {
    const unknownDecoder = refusal(XDP1.replace('name: uint', 'name: uint32'));
    expect(unknownDecoder.code).to.equal('BPF_LOAD_ARGUMENT');
    expect(unknownDecoder.message).to.equal(
      "c.yaml: counter 'rxcnt': label 'proto': unknown decoder 'uint32' (decoders: uint, hex, string, inet_ip, ksym, static_map, regexp, dname, cgroup)",
    );
    expect(refusal(XDP1.replace('size: 4', 'size: 3')).message).to.equal("c.yaml: counter 'rxcnt': label 'proto': the uint decoder reads 1, 2, 4 or 8 bytes, and size is 3");
    expect(refusal(XDP1.replace('help: packets by IP protocol', 'help: ""')).message).to.equal("c.yaml: counter 'rxcnt': needs help: a line saying what it counts");
    expect(refusal(XDP1.replace('size: 4', 'size: 4\n          sise: 4')).message).to.match(/^c\.yaml: counter 'rxcnt': label 'proto': unknown key 'sise'/);
    expect(refusal('metrics: {}').message).to.equal('c.yaml: metrics: defines no counters and no histograms');
    expect(refusal('metrics: [').message).to.match(/^c\.yaml: not valid YAML: /);
    expect(refusal(`${XDP1}  histograms:\n    - name: rxcnt\n      help: h\n      bucket_type: exp2\n      bucket_max: 3\n      labels: [{name: b, size: 4, decoders: [{name: uint}]}]\n`).message)
      .to.equal("c.yaml: metric 'rxcnt': is defined twice");
    const histogram = (extra: string): string =>
      `metrics:\n  histograms:\n    - name: lat\n      help: h\n      labels: [{name: bucket, size: 4, decoders: [{name: uint}]}]\n${extra}`;
    expect(refusal(histogram('      bucket_type: exp3\n')).message).to.equal("c.yaml: histogram 'lat': bucket_type must be one of exp2, exp2zero, linear, fixed, not 'exp3'");
    expect(refusal(histogram('      bucket_type: exp2\n      bucket_min: 4\n      bucket_max: 4\n')).message)
      .to.equal("c.yaml: histogram 'lat': bucket_max must be a whole number above bucket_min (4), not 4");
    expect(refusal(histogram('      bucket_type: fixed\n      bucket_keys: [1, 5, 3]\n')).message).to.equal("c.yaml: histogram 'lat': bucket_keys must ascend: 5 then 3");
    expect(refusal(XDP1.replace('name: uint', "name: regexp\n              regexps: ['(']")).message).to.match(/^c\.yaml: counter 'rxcnt': label 'proto': decoder 'regexp': regexp '\(' does not compile/);
  });

  it('judges the labels against the map: key sizes that do not add up, a map the object lacks, values that are no counter', () => {
    const config = parseMetricsConfig(XDP1, 'c.yaml');
    const map = { name: 'rxcnt', type: BPF_MAP_TYPE.PERCPU_ARRAY, keySize: 4, valueSize: 8 };
    checkMetricsAgainstMaps(config, [map], 'c.yaml');
    const thrown = (maps: (typeof map)[]): string => {
      try {
        checkMetricsAgainstMaps(config, maps, 'c.yaml');
      } catch (error) {
        expect((error as LoadError).code).to.equal('BPF_LOAD_ARGUMENT');
        return (error as Error).message;
      }
      throw new Error('accepted');
    };
    expect(thrown([{ ...map, keySize: 8 }])).to.equal("c.yaml: counter 'rxcnt': label 'proto': the labels' sizes (proto 4) add up to 4 bytes, the key of map 'rxcnt' is 8");
    expect(thrown([{ ...map, name: 'other' }])).to.equal("c.yaml: counter 'rxcnt': reads the map of the same name, and there is none (maps: other)");
    expect(thrown([{ ...map, valueSize: 16 }])).to.equal("c.yaml: counter 'rxcnt': map 'rxcnt' has 16-byte values; a metric reads a u64 (or u32) counter");
    // ebpf_exporter's per-CPU `cpu` label: a u16 after the key
    const perCpu = parseMetricsConfig(XDP1.replace('          decoders:\n            - name: uint\n', '          decoders:\n            - name: uint\n        - name: cpu\n          size: 2\n          decoders:\n            - name: uint\n'), 'c.yaml');
    checkMetricsAgainstMaps(perCpu, [map], 'c.yaml');
  });

  it('reads a config file and names it when it cannot', () => {
    const dir = mkdtempSync(join(tmpdir(), 'bpf-load-metrics-'));
    try {
      writeFileSync(join(dir, 'x.yaml'), XDP1);
      expect(readMetricsConfig(join(dir, 'x.yaml')).metrics.counters![0]!.name).to.equal('rxcnt');
      expect(() => readMetricsConfig(join(dir, 'none.yaml'))).to.throw(/none\.yaml: cannot read the metrics config: ENOENT/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('metrics decoders, as ebpf_exporter decodes', () => {
  const system = new DecoderSystem();
  const decode = (name: string, input: Buffer, extra: object = {}): string | typeof SKIP => {
    const out = makeDecoder({ name: name as 'uint', ...extra }, system)(input);
    return out === SKIP ? SKIP : out.toString();
  };

  it('uint, hex, string, static_map, regexp', () => {
    const u32 = Buffer.alloc(4);
    u32.writeUInt32LE(17);
    expect(decode('uint', u32)).to.equal('17');
    expect(decode('uint', Buffer.from([0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff]))).to.equal('18446744073709551615');
    expect(decode('hex', Buffer.from([0xde, 0xad]))).to.equal('dead');
    expect(decode('string', Buffer.from('bash\0\0junk'))).to.equal('bash');
    expect(decode('static_map', Buffer.from('17'), { static_map: { 17: 'udp' } })).to.equal('udp');
    expect(decode('static_map', Buffer.from('99'), { static_map: { 17: 'udp' } })).to.equal('unknown:99');
    expect(decode('static_map', Buffer.from('99'), { static_map: { 17: 'udp' }, allow_unknown: true })).to.equal('99');
    expect(decode('regexp', Buffer.from('nginx'), { regexps: ['^ngin', '^apache$'] })).to.equal('nginx');
    expect(decode('regexp', Buffer.from('bash'), { regexps: ['^ngin'] })).to.equal(SKIP);
  });

  it('inet_ip prints as Go net.IP does; dname reads DNS wire format', () => {
    expect(formatIp(Buffer.from([10, 1, 2, 3]))).to.equal('10.1.2.3');
    expect(formatIp(Buffer.from('20010db8000000000000000000000001', 'hex'))).to.equal('2001:db8::1');
    expect(formatIp(Buffer.from('00000000000000000000ffff0a000001', 'hex'))).to.equal('10.0.0.1');
    expect(formatIp(Buffer.from('00000000000000000000000000000000', 'hex'))).to.equal('::');
    expect(formatIp(Buffer.from('20010db8000100000001000000000001', 'hex'))).to.equal('2001:db8:1:0:1::1');
    expect(formatIp(Buffer.from([1, 2]))).to.equal('?0102');
    expect(formatDname(Buffer.from('\x03www\x07example\x03com\x00', 'latin1'))).to.equal('www.example.com.');
  });

  it('ksym finds the symbol at or below an address; cgroup finds a path by id', () => {
    const dir = mkdtempSync(join(tmpdir(), 'bpf-load-ksym-'));
    try {
      writeFileSync(join(dir, 'kallsyms'), 'ffffffff81000000 T _stext\nffffffff81001000 T do_one\nffffffff81002000 t do_two [mod]\n');
      const own = new DecoderSystem(join(dir, 'kallsyms'), dir);
      expect(own.ksym(0xffffffff81001010n)).to.equal('do_one');
      expect(own.ksym(0xffffffff81002000n)).to.equal('do_two');
      expect(own.ksym(0x1000n)).to.equal('unknown_addr:0x1000');
      expect(own.cgroupPath('1')).to.equal('unknown_cgroup_id:1');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it("histogram bounds: exp2 2^n × multiplier, exp2zero 0 then 2^(n-1), linear and fixed n × multiplier", () => {
    expect([0, 1, 2, 10].map((n) => upperBound('exp2', n, 0, 1))).to.deep.equal([1, 2, 4, 1024]);
    expect(upperBound('exp2', 10, 0, 1e-6)).to.be.closeTo(0.001024, 1e-12);
    expect([0, 1, 2, 3].map((n) => upperBound('exp2zero', n, 0, 1))).to.deep.equal([0, 1, 2, 4]);
    expect([1, 2, 3].map((n) => upperBound('linear', n, 0, 5))).to.deep.equal([5, 10, 15]);
  });
});

describe('docs/metrics.md: its configs are valid', () => {
  it('every yaml block with a metrics section parses and passes the checks', () => {
    const text = readFileSync(join(repoRoot, 'docs', 'metrics.md'), 'utf8');
    const blocks = [...text.matchAll(/^```yaml\n([\s\S]*?)^```$/gm)].map((m) => m[1]!).filter((b) => b.startsWith('metrics:'));
    expect(blocks.length).to.be.at.least(2);
    for (const block of blocks) parseMetricsConfig(block, 'docs/metrics.md');
    // the first run's config is samples/xdp1.yaml, word for word
    expect(readFileSync(join(repoRoot, 'samples', 'xdp1.yaml'), 'utf8')).to.include(blocks[0]!);
  });
});
