import { decodeVariable, encodeVariable, type VariableSpec, type VariableValue } from '../../elf/index.js';

import { BPF_F_MMAPABLE, PROT_READ, PROT_WRITE, mmapShared, pageSize, type MappedRegion } from '../../syscall/index.js';
import { LoadError } from '../errors.js';
import type { BpfMap } from '../maps/bpfMap.js';

/**
 * A global variable of a loaded object: read and written in the data map's memory (mmapped where
 * the map is mmapable, through the map's element otherwise). `.rodata` is frozen: read-only.
 */
export class BpfVariable {
  #region: MappedRegion | undefined;

  constructor(readonly spec: VariableSpec, private readonly map: BpfMap, private readonly file: string) {}

  get name(): string {
    return this.spec.name;
  }

  /** The variable's value as its BTF type says: number/bigint, boolean, string, or raw bytes. */
  get(): VariableValue {
    return decodeVariable(this.spec, this.#bytes());
  }

  /** Write the variable; the programs see it at once. Refused for `.rodata` (frozen) and values that do not fit. */
  set(value: VariableValue): void {
    if (this.spec.readOnly) {
      throw new LoadError(`variable '${this.name}' is in ${this.spec.section}, frozen after load: set it before the load (options.variables)`, {
        file: this.file,
      }, { code: 'BPF_LOAD_ARGUMENT' });
    }
    const bytes = encodeVariable(this.spec, value);
    const region = this.#mapped();
    if (region) {
      new Uint8Array(region.memory, this.spec.offset, this.spec.size).set(bytes);
      return;
    }
    const whole = this.map.lookup(new Uint8Array(4))!;
    whole.set(bytes, this.spec.offset);
    this.map.update(new Uint8Array(4), whole);
  }

  #bytes(): Uint8Array {
    const region = this.#mapped();
    if (region) return new Uint8Array(region.memory, this.spec.offset, this.spec.size).slice();
    const whole = this.map.lookup(new Uint8Array(4))!;
    return whole.subarray(this.spec.offset, this.spec.offset + this.spec.size);
  }

  #mapped(): MappedRegion | undefined {
    if (this.#region && !this.#region.unmapped) return this.#region;
    if (!(this.map.def.map_flags & BPF_F_MMAPABLE) || this.spec.readOnly) return undefined;
    const length = Math.ceil(this.map.def.value_size / pageSize()) * pageSize();
    this.#region = mmapShared(this.map.fd, length, PROT_READ | PROT_WRITE, 0, `variable '${this.name}'`);
    return this.#region;
  }

  close(): void {
    this.#region?.unmap();
  }
}
