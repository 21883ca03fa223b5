export { EventReader } from './waiting.js';
export { openPerfEventReader, type PerfRecord, type PerfEventReader, type PerfEventReaderOptions } from './perfReader.js';
export { openRingBufferReader, type RingBufferRecord, type RingBufferReader } from './ringBufferReader.js';
