import {
  BPF_MAP_TYPE, BpfFd, MapBatchOps, MapElementOps, isPerCpuMapType, mapTypeName,
} from '../../syscall/index.js';
import { MapError } from '../errors.js';
import { perCpuStride, possibleCpus } from './perCpu.js';

export type BatchKind = 'lookup' | 'lookupAndDelete' | 'update' | 'delete';

/** What a map is, as its views need it: the kernel's type, sizes and flags. */
export interface MapShape {
  readonly type: number;
  readonly keySize: number;
  readonly valueSize: number;
  readonly maxEntries: number;
  readonly flags: number;
}

/**
 * The core a BpfMap handle owns and its views (RawMap, TypedMap) hold: the
 * fd's owner, the shape and the value layout, the scratch memory of the
 * element commands (allocated on first use, freed on close()) and what the
 * batch commands turned out to support. Closing it ends every view.
 */
export class MapCore {
  readonly perCpu: boolean;
  /** possible CPUs for a per-CPU map, else 1 */
  readonly cpus: number;
  /** bytes between per-CPU slots (round_up(value_size, 8)); value_size otherwise */
  readonly valueStride: number;
  /** bytes the kernel copies per value: value_size, or cpus × stride for per-CPU maps */
  readonly valueBytes: number;
  /**
   * Per batch command: undefined until its first call says whether this
   * kernel and map type have it (arrays have LOOKUP_BATCH but not
   * LOOKUP_AND_DELETE_BATCH, for one).
   */
  readonly batchSupported: Record<BatchKind, boolean | undefined> = {
    lookup: undefined, lookupAndDelete: undefined, update: undefined, delete: undefined,
  };
  #elem: MapElementOps | undefined;

  constructor(
    readonly owner: BpfFd,
    readonly name: string,
    readonly shape: MapShape,
  ) {
    this.perCpu = isPerCpuMapType(shape.type);
    this.cpus = this.perCpu ? possibleCpus() : 1;
    this.valueStride = this.perCpu ? perCpuStride(shape.valueSize) : shape.valueSize;
    this.valueBytes = this.valueStride * this.cpus;
  }

  get fd(): number {
    if (this.owner.closed) throw new MapError(this.name, 'used after close()', { code: 'BPF_LOAD_MAP_CLOSED' });
    return this.owner.fd;
  }

  get elem(): MapElementOps {
    if (this.#elem === undefined) {
      if (this.owner.closed) throw new MapError(this.name, 'used after close()', { code: 'BPF_LOAD_MAP_CLOSED' });
      this.#elem = new MapElementOps(this.shape.keySize, this.valueBytes);
    }
    return this.#elem;
  }

  /** Batch buffers for one walk; per call so nested walks of one map do not share them. */
  newBatch(capacity: number): MapBatchOps {
    return new MapBatchOps(this.shape.keySize, this.valueBytes, capacity);
  }

  /** Maps whose entries cannot be deleted, so get_next_key never restarts from the first key. */
  get fixedKeys(): boolean {
    const t = this.shape.type;
    return (
      t === BPF_MAP_TYPE.ARRAY || t === BPF_MAP_TYPE.PERCPU_ARRAY || t === BPF_MAP_TYPE.ARRAY_OF_MAPS ||
      t === BPF_MAP_TYPE.PROG_ARRAY || t === BPF_MAP_TYPE.PERF_EVENT_ARRAY || t === BPF_MAP_TYPE.CGROUP_ARRAY
    );
  }

  /**
   * Maps whose BPF_MAP_LOOKUP_BATCH continues from the last key it returned
   * (the kernel's generic batch: LPM tries and the like), so a deleted cursor
   * sends it back to the first key. Hash maps continue from a bucket index and
   * arrays cannot lose keys.
   */
  get batchRestarts(): boolean {
    const t = this.shape.type;
    return !this.fixedKeys && t !== BPF_MAP_TYPE.HASH && t !== BPF_MAP_TYPE.PERCPU_HASH && t !== BPF_MAP_TYPE.LRU_HASH &&
      t !== BPF_MAP_TYPE.LRU_PERCPU_HASH && t !== BPF_MAP_TYPE.HASH_OF_MAPS;
  }

  describe(): string {
    return `${mapTypeName(this.shape.type)}, key ${this.shape.keySize}, value ${this.shape.valueSize}`;
  }

  close(): void {
    this.owner.close();
    this.#elem?.free();
    this.#elem = undefined;
  }
}

export function viewOf(bytes: Uint8Array): DataView {
  return new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}
