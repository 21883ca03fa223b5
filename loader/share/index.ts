export { exportMaps, type ExportMapsOptions, type MapSource } from './exportMaps.js';
export { receiveMaps, type ReceiveMapsOptions, type ReceivedMap, type ReceivedMaps } from './receiveMaps.js';
export type { TcMapEntry } from '../../syscall/index.js';
