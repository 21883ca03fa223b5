import { createRequire } from 'node:module';
import { endianness } from 'node:os';
import type * as PromClient from 'prom-client';
import type { Registry } from 'prom-client';
import { BPF_MAP_TYPE, isPerCpuMapType, mapTypeName } from '../../syscall/index.js';
import type { ObjectSpec } from '../../elf/index.js';
import { BpfMap } from '../maps/bpfMap.js';
import { perCpuStride } from '../maps/perCpu.js';
import { BpfObject } from '../load/bpfObject.js';
import { argumentError, checkOptions } from '../errors.js';
import {
  checkMetricsConfig, configError, type CounterMetricConfig, type HistogramMetricConfig, type MapMetricsConfig, type MetricLabelConfig,
} from './config.js';
import { DecoderSystem, SKIP, makeDecoder, type Decode } from './decoders.js';

/** prom-client, loaded on first use: `import 'bpf-load'` should not pay for it when no metric is made. */
export function promClient(): typeof PromClient {
  return createRequire(import.meta.url)('prom-client') as typeof PromClient;
}

/** What a metric needs to know of its map to be judged before anything is loaded. */
export interface MetricMapShape {
  name: string;
  type: number;
  keySize: number;
  valueSize: number;
}

/** The maps metrics read: a loaded object, maps, or maps by name (e.g. opened from pins). */
export type MapMetricsSource = BpfObject | readonly BpfMap[] | ReadonlyMap<string, BpfMap> | Readonly<Record<string, BpfMap>>;

export interface RegisterMapMetricsOptions {
  /** the prom-client registry to add the metrics to; default prom-client's global `register` */
  registry?: Registry;
  /** prefix of every metric name; default `ebpf_exporter`, as ebpf_exporter names them (`ebpf_exporter_NAME`); '' for none */
  namespace?: string;
  /** the most series a metric exports per scrape when its config says none (default 10000) */
  maxSeries?: number;
  /** where a config came from, for messages */
  source?: string;
  /** where the decoders read kernel symbols and cgroups (tests) */
  decoderSystem?: DecoderSystem;
}

/** The metrics registerMapMetrics added; unregister() takes them out of the registry again. */
export interface MapMetricsHandle {
  /** full metric names, in config order (counters, then histograms) */
  readonly names: readonly string[];
  unregister(): void;
}

export const DEFAULT_NAMESPACE = 'ebpf_exporter';
export const DEFAULT_MAX_SERIES = 10_000;
/** bpf-load's own counter of series it could not export, by metric and reason */
export const DROPPED_SERIES_METRIC = 'bpf_load_metrics_dropped_series_total';

/** value sizes a metric reads: u64 as ebpf_exporter does, and u32 as many samples/bpf maps hold */
const VALUE_SIZES = [4, 8];
const LITTLE_ENDIAN = endianness() === 'LE';
/** map types without entries a walk can read: queues, stacks, rings and perf event arrays */
const UNWALKABLE = new Set<number>([BPF_MAP_TYPE.QUEUE, BPF_MAP_TYPE.STACK, BPF_MAP_TYPE.RINGBUF, BPF_MAP_TYPE.PERF_EVENT_ARRAY]);

/** The shapes of an object's maps, from its spec, to judge a config before loading. */
export function mapShapesOfSpec(spec: Pick<ObjectSpec, 'maps'>): MetricMapShape[] {
  return Object.values(spec.maps).map((m) => ({ name: m.name, type: m.type, keySize: m.keySize, valueSize: m.valueSize }));
}

/**
 * Judge a config against the maps it reads: each metric's map exists, can be
 * walked, has values of 4 or 8 bytes, and its labels' sizes add up to the
 * key's. Throws an ARGUMENT error naming the metric and the label.
 */
export function checkMetricsAgainstMaps(config: MapMetricsConfig, maps: readonly MetricMapShape[], source = 'metrics config'): void {
  for (const metric of allMetrics(config)) {
    const where = [`${metric.kind} '${metric.config.name}'`];
    const map = maps.find((m) => m.name === metric.config.name);
    if (!map) {
      throw configError(source, where, `reads the map of the same name, and there is none (maps: ${maps.map((m) => m.name).join(', ') || 'none'})`);
    }
    if (UNWALKABLE.has(map.type)) throw configError(source, where, `map '${map.name}' is a ${mapTypeName(map.type)} map, which has no entries to export`);
    if (!VALUE_SIZES.includes(map.valueSize)) {
      throw configError(source, where, `map '${map.name}' has ${map.valueSize}-byte values; a metric reads a u64 (or u32) counter`);
    }
    const layout = keyLayout(metric.config.labels ?? [], isPerCpuMapType(map.type));
    const cpu = metric.config.labels?.at(-1);
    if (layout.splitCpu && cpu!.size !== 2) {
      throw configError(source, [...where, "label 'cpu'"], `on a per-CPU map the cpu label is the CPU number as a u16: size 2, not ${cpu!.size}`);
    }
    if (layout.expected !== map.keySize) {
      const sizes = (metric.config.labels ?? []).map((l) => `${l.name} ${l.size}${l.padding ? `+${l.padding}` : ''}`).join(' + ');
      const last = metric.config.labels?.at(-1);
      throw configError(source, last ? [...where, `label '${last.name}'`] : where,
        `the labels' sizes (${sizes || 'none'}${layout.note}) add up to ${layout.expected} bytes, the key of map '${map.name}' is ${map.keySize}`);
    }
  }
}

/**
 * How labels read a key, as ebpf_exporter reads it: no labels means a single
 * u32 key 0; a last label named `cpu` on a per-CPU map is the CPU number (a
 * u16 after the key, or the key itself when the key is u32 0).
 */
function keyLayout(labels: readonly MetricLabelConfig[], perCpu: boolean): { expected: number; note: string; splitCpu: boolean; cpuOnly: boolean } {
  const total = labels.reduce((sum, l) => sum + l.size + (l.padding ?? 0), 0);
  if (labels.length === 0) return { expected: 4, note: ': a metric without labels reads a u32 key 0', splitCpu: false, cpuOnly: false };
  const splitCpu = perCpu && labels.at(-1)!.name === 'cpu';
  if (!splitCpu) return { expected: total, note: '', splitCpu, cpuOnly: false };
  if (labels.length === 1) return { expected: 4, note: ': a per-CPU map with only a cpu label reads a u32 key 0', splitCpu, cpuOnly: true };
  return { expected: total - labels.at(-1)!.size - (labels.at(-1)!.padding ?? 0), note: ', without the cpu label: the CPU is not in the key', splitCpu, cpuOnly: false };
}

interface MetricEntry {
  kind: 'counter' | 'histogram';
  config: CounterMetricConfig | HistogramMetricConfig;
}

function allMetrics(config: MapMetricsConfig): MetricEntry[] {
  return [
    ...(config.metrics.counters ?? []).map((c) => ({ kind: 'counter' as const, config: c })),
    ...(config.metrics.histograms ?? []).map((h) => ({ kind: 'histogram' as const, config: h })),
  ];
}

/**
 * Add the maps' metrics to a prom-client registry, read on every scrape (no
 * polling): counters and histograms in ebpf_exporter's config format. The
 * config is judged whole against the maps first; nothing is registered when
 * any of it is wrong.
 */
export function registerMapMetrics(
  source: MapMetricsSource,
  config: MapMetricsConfig,
  options: RegisterMapMetricsOptions = {},
): MapMetricsHandle {
  checkOptions(options, ['registry', 'namespace', 'maxSeries', 'source', 'decoderSystem'], 'registerMapMetrics');
  const registry = options.registry ?? promClient().register;
  // duck-typed: the caller's prom-client may be another copy of the package than ours
  if (typeof registry?.registerMetric !== 'function' || typeof registry.getSingleMetric !== 'function') {
    throw argumentError('registerMapMetrics', 'options.registry', 'a prom-client Registry', registry);
  }
  const namespace = options.namespace ?? DEFAULT_NAMESPACE;
  if (typeof namespace !== 'string' || (namespace !== '' && !/^[a-zA-Z_:][a-zA-Z0-9_:]*$/.test(namespace))) {
    throw argumentError('registerMapMetrics', 'options.namespace', 'a metric name prefix ([a-zA-Z_:][a-zA-Z0-9_:]*) or an empty string', namespace);
  }
  const maxSeries = options.maxSeries ?? DEFAULT_MAX_SERIES;
  if (typeof maxSeries !== 'number' || !Number.isInteger(maxSeries) || maxSeries < 1) {
    throw argumentError('registerMapMetrics', 'options.maxSeries', 'a whole number of at least 1', maxSeries);
  }
  const where = options.source ?? 'metrics config';
  const checked = checkMetricsConfig(config, where);
  const maps = mapsByName(source);
  checkMetricsAgainstMaps(checked, [...maps].map(([name, m]) => ({ name, type: m.type, keySize: m.keySize, valueSize: m.valueSize })), where);

  const system = options.decoderSystem ?? new DecoderSystem();
  const dropped = droppedSeriesCounter(registry);
  const metrics = allMetrics(checked).map((entry) => {
    const fullName = namespace === '' ? entry.config.name : `${namespace}_${entry.config.name}`;
    const reader = new SeriesReader(entry, maps.get(entry.config.name)!, system, entry.config.max_series ?? maxSeries, dropped, fullName);
    return entry.kind === 'counter' ? new CounterMetric(fullName, entry.config.help, reader) : new HistogramMetric(fullName, entry.config.help, reader, entry.config as HistogramMetricConfig);
  });
  for (const metric of metrics) {
    if (registry.getSingleMetric(metric.name)) {
      throw configError(where, [`${metric.type} '${metric.name}'`], 'the registry has a metric of this name already');
    }
  }
  for (const metric of metrics) registry.registerMetric(metric as never);
  const names = metrics.map((m) => m.name);
  return {
    names,
    unregister: () => {
      for (const metric of metrics) if (registry.getSingleMetric(metric.name) === (metric as unknown)) registry.removeSingleMetric(metric.name);
    },
  };
}

/** The maps by the name metrics find them by: their own, or the key they are given under. */
function mapsByName(source: MapMetricsSource): Map<string, BpfMap> {
  let entries: [string, unknown][];
  if (source instanceof BpfObject) entries = source.maps.map((m) => [m.name, m]);
  else if (Array.isArray(source)) entries = (source as unknown[]).map((m) => [(m as BpfMap)?.name, m]);
  else if (source instanceof Map) entries = [...(source as ReadonlyMap<string, unknown>).entries()];
  else if (typeof source === 'object' && source !== null) entries = Object.entries(source);
  else throw argumentError('registerMapMetrics', 'source', 'a BpfObject, an array of BpfMap or maps by name', source);
  const byName = new Map<string, BpfMap>();
  for (const [name, map] of entries) {
    if (!(map instanceof BpfMap)) throw argumentError('registerMapMetrics', `source['${name}']`, 'a BpfMap', map);
    byName.set(name, map);
  }
  return byName;
}

interface Series {
  labels: string[];
  value: number;
}

/** One metric's map read into series: key → labels by the decoders, per-CPU values summed, equal label sets summed. */
class SeriesReader {
  readonly #labels: { name: string; size: number; padding: number; decode: Decode[] }[];
  readonly #splitCpu: boolean;
  readonly #cpuOnly: boolean;
  readonly #noLabels: boolean;
  /** decoded labels by raw key: decoding runs once per key, not per scrape */
  readonly #cache = new Map<string, string[] | typeof SKIP>();

  constructor(
    readonly entry: MetricEntry,
    readonly map: BpfMap,
    system: DecoderSystem,
    readonly maxSeries: number,
    readonly dropped: DroppedSeries,
    readonly metricName: string,
  ) {
    const labels = entry.config.labels ?? [];
    this.#labels = labels.map((l) => ({ name: l.name, size: l.size, padding: l.padding ?? 0, decode: l.decoders.map((d) => makeDecoder(d, system)) }));
    const layout = keyLayout(labels, map.isPerCpu);
    this.#splitCpu = layout.splitCpu;
    this.#cpuOnly = layout.cpuOnly;
    this.#noLabels = labels.length === 0;
  }

  get labelNames(): string[] {
    return this.#labels.map((l) => l.name);
  }

  /** Every series of the map now, in the map's order, at most maxSeries (+ the rest counted as dropped). */
  read(): Series[] {
    const map = this.map;
    const series = new Map<string, Series>();
    let decodeErrors = 0;
    const add = (raw: Buffer, value: number): void => {
      const labels = this.#decode(raw);
      if (labels === SKIP) return;
      if (labels === undefined) {
        decodeErrors++;
        return;
      }
      const id = labels.join('\u0000');
      const found = series.get(id);
      if (found) found.value += value;
      else series.set(id, { labels, value });
    };
    const cpus = map.possibleCpus;
    const stride = perCpuStride(map.valueSize);
    const cpuKey = Buffer.alloc(map.keySize + 2);
    for (const chunk of map.chunks(true)) {
      const { keys, values, keySize, valueSize } = chunk;
      for (let i = 0; i < chunk.count; i++) {
        const key = keys.subarray(i * keySize, (i + 1) * keySize);
        const at = i * valueSize;
        if (!map.isPerCpu) {
          add(key, readValue(values, at, map.valueSize));
        } else if (this.#splitCpu) {
          key.copy(cpuKey);
          for (let cpu = 0; cpu < cpus; cpu++) {
            const value = readValue(values, at + cpu * stride, map.valueSize);
            // ebpf_exporter appends the CPU as a u16 in host order, which the `uint` decoder reads back
            if (LITTLE_ENDIAN) cpuKey.writeUInt16LE(cpu, keySize);
            else cpuKey.writeUInt16BE(cpu, keySize);
            add(cpuKey, value);
          }
        } else {
          let sum = 0;
          for (let cpu = 0; cpu < cpus; cpu++) sum += readValue(values, at + cpu * stride, map.valueSize);
          add(key, sum);
        }
      }
    }
    const all = [...series.values()];
    if (decodeErrors > 0) this.dropped.add(this.metricName, 'decode_error', decodeErrors);
    if (all.length <= this.maxSeries) return all;
    this.dropped.add(this.metricName, 'max_series', all.length - this.maxSeries);
    return all.slice(0, this.maxSeries);
  }

  /** The label values of a raw key; SKIP when a decoder filters it out; undefined when it cannot be decoded. */
  #decode(raw: Buffer): string[] | typeof SKIP | undefined {
    const id = raw.toString('latin1');
    const cached = this.#cache.get(id);
    if (cached !== undefined) return cached;
    let decoded: string[] | typeof SKIP;
    try {
      decoded = this.#decodeNow(raw);
    } catch {
      return undefined;
    }
    if (decoded === undefined) return undefined;
    // a map whose keys churn (pids, addresses) must not grow the cache without end
    if (this.#cache.size >= 4 * this.maxSeries) this.#cache.clear();
    this.#cache.set(id, decoded);
    return decoded;
  }

  #decodeNow(raw: Buffer): string[] | typeof SKIP {
    if (this.#noLabels) {
      if (raw.length === 4 && raw.readUInt32LE(0) === 0) return [];
      throw new Error('a metric without labels reads key 0 only');
    }
    let input = raw;
    if (this.#cpuOnly) {
      if (raw.readUInt32LE(0) !== 0) throw new Error('a cpu-only metric reads key 0 only');
      input = raw.subarray(4);
    }
    const values: string[] = [];
    let at = 0;
    for (const label of this.#labels) {
      let bytes: Buffer = input.subarray(at, at + label.size);
      if (bytes.length !== label.size) throw new Error('key shorter than its labels');
      for (const decode of label.decode) {
        const out = decode(bytes);
        if (out === SKIP) return SKIP;
        bytes = out;
      }
      values.push(bytes.toString('utf8'));
      at += label.size + label.padding;
    }
    return values;
  }
}

function readValue(values: Buffer, at: number, size: number): number {
  if (LITTLE_ENDIAN) return size === 8 ? Number(values.readBigUInt64LE(at)) : values.readUInt32LE(at);
  return size === 8 ? Number(values.readBigUInt64BE(at)) : values.readUInt32BE(at);
}

/** The shape prom-client's registry reads from a metric: get() is called on every scrape. */
interface PromValue {
  value: number;
  labels: Record<string, string | number>;
  metricName?: string;
}

abstract class MapMetric {
  readonly aggregator = 'sum';
  abstract readonly type: 'counter' | 'histogram';

  constructor(
    public name: string,
    readonly help: string,
  ) {}

  protected abstract values(): PromValue[];

  async get(): Promise<{ name: string; help: string; type: string; values: PromValue[]; aggregator: string }> {
    return { name: this.name, help: this.help, type: this.type, values: this.values(), aggregator: this.aggregator };
  }

  /** the map is the state: there is nothing to reset */
  reset(): void {}
}

class CounterMetric extends MapMetric {
  readonly type = 'counter';

  constructor(name: string, help: string, readonly reader: SeriesReader) {
    super(name, help);
  }

  protected values(): PromValue[] {
    const names = this.reader.labelNames;
    return this.reader.read().map((s) => ({ value: s.value, labels: labelObject(names, s.labels) }));
  }
}

class HistogramMetric extends MapMetric {
  readonly type = 'histogram';
  readonly #bounds: { bucket: number; le: number }[];
  readonly #sumBucket: number;
  readonly #multiplier: number;

  constructor(name: string, help: string, readonly reader: SeriesReader, config: HistogramMetricConfig) {
    super(name, help);
    this.#multiplier = config.bucket_multiplier ?? 1;
    const buckets = config.bucket_type === 'fixed'
      ? config.bucket_keys!
      : Array.from({ length: config.bucket_max! - config.bucket_min! + 1 }, (_, i) => config.bucket_min! + i);
    this.#bounds = buckets.map((bucket) => ({ bucket, le: upperBound(config.bucket_type, bucket, config.bucket_min ?? 0, this.#multiplier) }));
    this.#sumBucket = buckets.at(-1)! + 1;
  }

  protected values(): PromValue[] {
    const names = this.reader.labelNames.slice(0, -1);
    // the key's last field is the bucket: group the rest
    const groups = new Map<string, { labels: string[]; buckets: Map<number, number> }>();
    let unparsable = 0;
    for (const s of this.reader.read()) {
      const bucket = parseBucket(s.labels.at(-1)!);
      if (bucket === undefined) {
        unparsable++;
        continue;
      }
      const labels = s.labels.slice(0, -1);
      const id = labels.join('\u0000');
      let group = groups.get(id);
      if (!group) groups.set(id, (group = { labels, buckets: new Map() }));
      group.buckets.set(bucket, (group.buckets.get(bucket) ?? 0) + s.value);
    }
    if (unparsable) this.reader.dropped.add(this.name, 'decode_error', unparsable);
    const out: PromValue[] = [];
    for (const { labels, buckets } of groups.values()) {
      const base = labelObject(names, labels);
      let count = 0;
      for (const { bucket, le } of this.#bounds) {
        count += buckets.get(bucket) ?? 0;
        out.push({ metricName: `${this.name}_bucket`, labels: { ...base, le }, value: count });
      }
      out.push({ metricName: `${this.name}_bucket`, labels: { ...base, le: '+Inf' }, value: count });
      out.push({ metricName: `${this.name}_sum`, labels: base, value: (buckets.get(this.#sumBucket) ?? 0) * this.#multiplier });
      out.push({ metricName: `${this.name}_count`, labels: base, value: count });
    }
    return out;
  }
}

/** The `le` of bucket number `bucket`, as ebpf_exporter computes it. */
export function upperBound(type: HistogramMetricConfig['bucket_type'], bucket: number, min: number, multiplier: number): number {
  switch (type) {
    case 'exp2':
      return 2 ** bucket * multiplier;
    case 'exp2zero':
      return bucket === min ? 0 : 2 ** (bucket - 1) * multiplier;
    case 'linear':
    case 'fixed':
      return bucket * multiplier;
  }
}

/** A bucket label as Go's strconv.ParseUint(s, 0, 64) reads it: decimal, 0x hex, 0o or 0 octal, 0b binary. */
function parseBucket(text: string): number | undefined {
  const match = /^(?:0[xX]([0-9a-fA-F]+)|0[bB]([01]+)|0[oO]?([0-7]+)|([1-9][0-9]*|0))$/.exec(text);
  if (!match) return undefined;
  const [, hex, bin, oct, dec] = match;
  return hex ? parseInt(hex, 16) : bin ? parseInt(bin, 2) : oct ? parseInt(oct, 8) : Number(dec);
}

function labelObject(names: readonly string[], values: readonly string[]): Record<string, string> {
  const labels: Record<string, string> = {};
  names.forEach((name, i) => (labels[name] = values[i]!));
  return labels;
}

/** `bpf_load_metrics_dropped_series_total{metric, reason}`: one per registry, shared by every registerMapMetrics on it. */
class DroppedSeries {
  readonly type = 'counter';
  readonly aggregator = 'sum';
  readonly help = 'Series of map metrics not exported: reason max_series (over the metric\'s cap) or decode_error (a key its labels cannot decode)';
  name = DROPPED_SERIES_METRIC;
  readonly #counts = new Map<string, { metric: string; reason: string; value: number }>();

  add(metric: string, reason: 'max_series' | 'decode_error', count: number): void {
    const id = `${metric}\u0000${reason}`;
    const found = this.#counts.get(id);
    if (found) found.value += count;
    else this.#counts.set(id, { metric, reason, value: count });
  }

  async get(): Promise<{ name: string; help: string; type: string; values: PromValue[]; aggregator: string }> {
    // a scrape calls every metric's get() in one go: let the map reads of this scrape count their drops first
    await new Promise((resolve) => setImmediate(resolve));
    const values = [...this.#counts.values()].map((c) => ({ value: c.value, labels: { metric: c.metric, reason: c.reason } }));
    return { name: this.name, help: this.help, type: this.type, values, aggregator: this.aggregator };
  }

  reset(): void {
    this.#counts.clear();
  }
}

function droppedSeriesCounter(registry: Registry): DroppedSeries {
  const existing = registry.getSingleMetric(DROPPED_SERIES_METRIC) ?? registry.getSingleMetric(DROPPED_SERIES_METRIC.replace(/_total$/, ''));
  if (existing instanceof DroppedSeries) return existing;
  const created = new DroppedSeries();
  registry.registerMetric(created as never);
  return created;
}
