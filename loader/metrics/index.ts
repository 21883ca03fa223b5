export {
  readMetricsConfig, parseMetricsConfig, checkMetricsConfig, type MapMetricsConfig, type CounterMetricConfig, type HistogramMetricConfig,
  type HistogramBucketType, type MetricLabelConfig, type MetricDecoderConfig,
} from './config.js';
export { DECODER_NAMES, type DecoderName } from './decoders.js';
export {
  registerMapMetrics, checkMetricsAgainstMaps, mapShapesOfSpec, DEFAULT_NAMESPACE, DEFAULT_MAX_SERIES, DROPPED_SERIES_METRIC,
  type MapMetricsHandle, type MapMetricsSource, type MetricMapShape, type RegisterMapMetricsOptions,
} from './mapMetrics.js';
