import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { extname } from 'node:path';
import type * as Yaml from 'yaml';
import { LoadError, describeValue } from '../errors.js';
import { DECODER_NAMES, type DecoderName } from './decoders.js';

/**
 * The metrics config: ebpf_exporter's v2 format (`metrics.counters[]`,
 * `metrics.histograms[]`), so a config written for it works unchanged where
 * its decoders exist here. Each metric reads the map of the same name; its
 * `labels` are the fields of the map's key, in order, `size` bytes each
 * (plus `padding`), turned into a label value by the `decoders` in turn.
 */
export interface MapMetricsConfig {
  metrics: {
    counters?: CounterMetricConfig[];
    histograms?: HistogramMetricConfig[];
  };
  /** ebpf_exporter's kernel addresses for .kconfig: read and ignored (legacy objects have no .kconfig) */
  kaddrs?: string[];
}

export interface CounterMetricConfig {
  /** the metric's name (after the namespace prefix) and the name of the map it reads */
  name: string;
  help: string;
  labels?: MetricLabelConfig[];
  /** bpf-load's own: the most series this metric exports per scrape; the rest are counted as dropped */
  max_series?: number;
}

export type HistogramBucketType = 'exp2' | 'exp2zero' | 'linear' | 'fixed';

export interface HistogramMetricConfig extends CounterMetricConfig {
  /**
   * How a bucket number (the key's last field) becomes the bucket's upper
   * bound `le`: exp2 2^n × multiplier; exp2zero 0 for bucket_min, else
   * 2^(n-1) × multiplier; linear n × multiplier; fixed n × multiplier over
   * the numbers in bucket_keys.
   */
  bucket_type: HistogramBucketType;
  bucket_min?: number;
  bucket_max?: number;
  /** default 1 */
  bucket_multiplier?: number;
  /** the bucket numbers of a `fixed` histogram, ascending */
  bucket_keys?: number[];
}

export interface MetricLabelConfig {
  name: string;
  /** bytes of the key this label is decoded from */
  size: number;
  /** bytes skipped after the field (alignment holes of the key's struct) */
  padding?: number;
  decoders: MetricDecoderConfig[];
}

export interface MetricDecoderConfig {
  name: DecoderName;
  /** static_map: value → label value */
  static_map?: Record<string, string>;
  /** static_map: keep a value the map does not list as it is, instead of `unknown:VALUE` */
  allow_unknown?: boolean;
  /** regexp: keep the series only when the value matches one of these */
  regexps?: string[];
}

// loaded on first use: `import 'bpf-load'` should not pay for a YAML parser it may never need
let yaml: typeof Yaml | undefined;
function parseYaml(text: string, options: Yaml.ParseOptions): unknown {
  yaml ??= createRequire(import.meta.url)('yaml') as typeof Yaml;
  return yaml.parse(text, options);
}

/** Where a config came from, for messages: a file name or what the caller says. */
const DEFAULT_SOURCE = 'metrics config';

const METRIC_NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/;
const LABEL_NAME = /^[a-zA-Z_][a-zA-Z0-9_]*$/;
const TOP_KEYS = ['metrics', 'kaddrs'];
const METRICS_KEYS = ['counters', 'histograms'];
const COUNTER_KEYS = ['name', 'help', 'labels', 'max_series', 'perf_event_array', 'flush_interval'];
const HISTOGRAM_KEYS = [...COUNTER_KEYS, 'bucket_type', 'bucket_min', 'bucket_max', 'bucket_multiplier', 'bucket_keys'];
const LABEL_KEYS = ['name', 'size', 'padding', 'decoders'];
const DECODER_KEYS = ['name', 'static_map', 'allow_unknown', 'regexps'];
const BUCKET_TYPES: readonly HistogramBucketType[] = ['exp2', 'exp2zero', 'linear', 'fixed'];
/** how many sizes the uint decoder reads */
const UINT_SIZES = [1, 2, 4, 8];

/** A config that cannot work: names the config, the metric, the label and what is wrong. An ARGUMENT error (exit 2). */
export function configError(source: string, where: readonly string[], message: string): LoadError {
  return new LoadError([source, ...where, message].join(': '), {}, { code: 'BPF_LOAD_ARGUMENT' });
}

/** Read a config file: YAML (which JSON is a subset of) or JSON by its extension. */
export function readMetricsConfig(path: string): MapMetricsConfig {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (cause) {
    throw new LoadError(`cannot read the metrics config: ${(cause as NodeJS.ErrnoException).code ?? String(cause)}`, { file: path }, {
      cause, code: 'BPF_LOAD_ARGUMENT',
    });
  }
  return parseMetricsConfig(text, path);
}

/** Parse and check a config's text (YAML or JSON). */
export function parseMetricsConfig(text: string, source = DEFAULT_SOURCE): MapMetricsConfig {
  let data: unknown;
  try {
    data = extname(source) === '.json' ? JSON.parse(text) : parseYaml(text, { uniqueKeys: true });
  } catch (cause) {
    throw configError(source, [], `not valid ${extname(source) === '.json' ? 'JSON' : 'YAML'}: ${(cause as Error).message.split('\n')[0]}`);
  }
  return checkMetricsConfig(data, source);
}

/**
 * Check a config given as data (from parseMetricsConfig, or built in code)
 * and return it as a frozen copy with defaults filled in. Everything that can
 * be judged without the maps is judged here.
 */
export function checkMetricsConfig(data: unknown, source = DEFAULT_SOURCE): MapMetricsConfig {
  const top = record(data, source, [], 'the config');
  onlyKeys(top, TOP_KEYS, source, []);
  if (top.kaddrs !== undefined) stringArray(top.kaddrs, source, ['kaddrs']);
  const metrics = record(top.metrics, source, ['metrics'], 'metrics (with counters and/or histograms)');
  onlyKeys(metrics, METRICS_KEYS, source, ['metrics']);
  const counters = list(metrics.counters, source, ['metrics.counters']).map((c, i) => checkCounter(c, i, source));
  const histograms = list(metrics.histograms, source, ['metrics.histograms']).map((h, i) => checkHistogram(h, i, source));
  if (counters.length + histograms.length === 0) throw configError(source, ['metrics'], 'defines no counters and no histograms');
  const seen = new Set<string>();
  for (const metric of [...counters, ...histograms]) {
    if (seen.has(metric.name)) throw configError(source, [`metric '${metric.name}'`], 'is defined twice');
    seen.add(metric.name);
  }
  return deepFreeze({ metrics: { counters, histograms } });
}

function checkCounter(data: unknown, index: number, source: string): CounterMetricConfig {
  const raw = record(data, source, [`counters[${index}]`], 'a counter');
  const where = [`counter '${typeof raw.name === 'string' ? raw.name : `#${index}`}'`];
  onlyKeys(raw, COUNTER_KEYS, source, where);
  return checkCommon(raw, source, where, 'counter');
}

function checkCommon(raw: Record<string, unknown>, source: string, where: string[], kind: 'counter' | 'histogram'): CounterMetricConfig {
  if (typeof raw.name !== 'string' || !METRIC_NAME.test(raw.name)) {
    throw configError(source, where, `name must be a metric name ([a-zA-Z_:][a-zA-Z0-9_:]*, also the map's name), not ${describeValue(raw.name)}`);
  }
  if (typeof raw.help !== 'string' || raw.help === '') throw configError(source, where, 'needs help: a line saying what it counts');
  if (raw.perf_event_array === true) {
    throw configError(source, where, 'perf_event_array counters are not supported: export a map the program updates');
  }
  const labels = list(raw.labels, source, [...where, 'labels']).map((l, i) => checkLabel(l, i, source, where, kind));
  const names = new Set<string>();
  for (const label of labels) {
    if (names.has(label.name)) throw configError(source, [...where, `label '${label.name}'`], 'is named twice');
    names.add(label.name);
  }
  const metric: CounterMetricConfig = { name: raw.name, help: raw.help, labels };
  if (raw.max_series !== undefined) {
    if (typeof raw.max_series !== 'number' || !Number.isInteger(raw.max_series) || raw.max_series < 1) {
      throw configError(source, where, `max_series must be a whole number of at least 1, not ${describeValue(raw.max_series)}`);
    }
    metric.max_series = raw.max_series;
  }
  return metric;
}

function checkLabel(data: unknown, index: number, source: string, metric: string[], kind: 'counter' | 'histogram'): MetricLabelConfig {
  const raw = record(data, source, [...metric, `labels[${index}]`], 'a label');
  const where = [...metric, `label '${typeof raw.name === 'string' ? raw.name : `#${index}`}'`];
  onlyKeys(raw, LABEL_KEYS, source, where);
  if (typeof raw.name !== 'string' || !LABEL_NAME.test(raw.name) || raw.name.startsWith('__')) {
    throw configError(source, where, `name must be a label name ([a-zA-Z_][a-zA-Z0-9_]*, not starting with __), not ${describeValue(raw.name)}`);
  }
  if (kind === 'histogram' && raw.name === 'le') throw configError(source, where, "'le' is the bucket bound Prometheus adds: name the label otherwise");
  if (typeof raw.size !== 'number' || !Number.isInteger(raw.size) || raw.size < 1) {
    throw configError(source, where, `size must be the bytes of the key this label is read from (a whole number of at least 1), not ${describeValue(raw.size)}`);
  }
  const padding = raw.padding ?? 0;
  if (typeof padding !== 'number' || !Number.isInteger(padding) || padding < 0) {
    throw configError(source, where, `padding must be a whole number of bytes, not ${describeValue(raw.padding)}`);
  }
  const decoders = list(raw.decoders, source, [...where, 'decoders']).map((d, i) => checkDecoder(d, i, source, where));
  if (decoders.length === 0) throw configError(source, where, 'needs decoders (e.g. [{name: uint}])');
  if (decoders[0]!.name === 'uint' && !UINT_SIZES.includes(raw.size)) {
    throw configError(source, where, `the uint decoder reads 1, 2, 4 or 8 bytes, and size is ${raw.size}`);
  }
  return { name: raw.name, size: raw.size, ...(padding ? { padding } : {}), decoders };
}

function checkDecoder(data: unknown, index: number, source: string, label: string[]): MetricDecoderConfig {
  const raw = record(data, source, [...label, `decoders[${index}]`], 'a decoder ({name: …})');
  const where = [...label, `decoder '${typeof raw.name === 'string' ? raw.name : `#${index}`}'`];
  onlyKeys(raw, DECODER_KEYS, source, where);
  if (typeof raw.name !== 'string' || !(DECODER_NAMES as readonly string[]).includes(raw.name)) {
    throw configError(source, [...label], `unknown decoder ${describeValue(raw.name)} (decoders: ${DECODER_NAMES.join(', ')})`);
  }
  const decoder: MetricDecoderConfig = { name: raw.name as DecoderName };
  if (raw.name === 'static_map') {
    const map = record(raw.static_map, source, where, 'static_map: a mapping of values to label values');
    const copy: Record<string, string> = {};
    for (const [key, value] of Object.entries(map)) {
      if (typeof value !== 'string' && typeof value !== 'number') {
        throw configError(source, where, `static_map value for '${key}' must be a string, not ${describeValue(value)}`);
      }
      copy[key] = String(value);
    }
    decoder.static_map = copy;
    if (raw.allow_unknown !== undefined) {
      if (typeof raw.allow_unknown !== 'boolean') throw configError(source, where, 'allow_unknown must be true or false');
      decoder.allow_unknown = raw.allow_unknown;
    }
  } else if (raw.static_map !== undefined || raw.allow_unknown !== undefined) {
    throw configError(source, where, 'static_map and allow_unknown belong to the static_map decoder');
  }
  if (raw.name === 'regexp') {
    const regexps = stringArray(raw.regexps, source, [...where, 'regexps']);
    if (regexps.length === 0) throw configError(source, where, 'needs regexps: the patterns a value must match to be kept');
    for (const pattern of regexps) {
      try {
        new RegExp(pattern);
      } catch (cause) {
        throw configError(source, where, `regexp ${describeValue(pattern)} does not compile: ${(cause as Error).message}`);
      }
    }
    decoder.regexps = regexps;
  } else if (raw.regexps !== undefined) {
    throw configError(source, where, 'regexps belong to the regexp decoder');
  }
  return decoder;
}

function checkHistogram(data: unknown, index: number, source: string): HistogramMetricConfig {
  const raw = record(data, source, [`histograms[${index}]`], 'a histogram');
  const where = [`histogram '${typeof raw.name === 'string' ? raw.name : `#${index}`}'`];
  onlyKeys(raw, HISTOGRAM_KEYS, source, where);
  const common = checkCommon(raw, source, where, 'histogram');
  if (!common.labels?.length) throw configError(source, where, 'needs labels: at least the bucket, the last field of the key');
  if (typeof raw.bucket_type !== 'string' || !(BUCKET_TYPES as readonly string[]).includes(raw.bucket_type)) {
    throw configError(source, where, `bucket_type must be one of ${BUCKET_TYPES.join(', ')}, not ${describeValue(raw.bucket_type)}`);
  }
  const type = raw.bucket_type as HistogramBucketType;
  const multiplier = raw.bucket_multiplier ?? 1;
  if (typeof multiplier !== 'number' || !Number.isFinite(multiplier) || multiplier <= 0) {
    throw configError(source, where, `bucket_multiplier must be a number above 0, not ${describeValue(raw.bucket_multiplier)}`);
  }
  const histogram: HistogramMetricConfig = { ...common, bucket_type: type, bucket_multiplier: multiplier };
  if (type === 'fixed') {
    const keys = raw.bucket_keys;
    if (!Array.isArray(keys) || keys.length === 0 || !keys.every((k) => typeof k === 'number' && Number.isInteger(k) && k >= 0)) {
      throw configError(source, where, `a fixed histogram needs bucket_keys: the bucket numbers, whole and ascending, not ${describeValue(keys)}`);
    }
    for (let i = 1; i < keys.length; i++) {
      if ((keys[i] as number) <= (keys[i - 1] as number)) throw configError(source, where, `bucket_keys must ascend: ${keys[i - 1]} then ${keys[i]}`);
    }
    histogram.bucket_keys = [...(keys as number[])];
  } else {
    const min = raw.bucket_min ?? 0;
    const max = raw.bucket_max;
    if (typeof min !== 'number' || !Number.isInteger(min) || min < 0) {
      throw configError(source, where, `bucket_min must be a whole number of at least 0, not ${describeValue(raw.bucket_min)}`);
    }
    if (typeof max !== 'number' || !Number.isInteger(max) || max <= min || max > 1_000_000) {
      throw configError(source, where, `bucket_max must be a whole number above bucket_min (${min}), not ${describeValue(max)}`);
    }
    if (raw.bucket_keys !== undefined) throw configError(source, where, 'bucket_keys belong to a fixed histogram');
    histogram.bucket_min = min;
    histogram.bucket_max = max;
  }
  return histogram;
}

function record(value: unknown, source: string, where: string[], what: string): Record<string, unknown> {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw configError(source, where, `must be ${what}, not ${describeValue(value)}`);
  }
  return value as Record<string, unknown>;
}

function list(value: unknown, source: string, where: string[]): unknown[] {
  if (value === undefined || value === null) return [];
  if (!Array.isArray(value)) throw configError(source, where, `must be a list, not ${describeValue(value)}`);
  return value;
}

function stringArray(value: unknown, source: string, where: string[]): string[] {
  const items = list(value, source, where);
  if (!items.every((s) => typeof s === 'string')) throw configError(source, where, 'must be a list of strings');
  return items as string[];
}

function onlyKeys(value: Record<string, unknown>, known: readonly string[], source: string, where: string[]): void {
  const unknown = Object.keys(value).filter((k) => !known.includes(k));
  if (unknown.length) throw configError(source, where, `unknown key ${unknown.map((k) => `'${k}'`).join(', ')} (known: ${known.join(', ')})`);
}

function deepFreeze<T>(value: T): T {
  if (typeof value === 'object' && value !== null) {
    for (const inner of Object.values(value)) deepFreeze(inner);
    Object.freeze(value);
  }
  return value;
}
