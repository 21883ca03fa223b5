import type { ObjectSpec } from '../../elf/index.js';
import type { BpfMap } from '../maps/bpfMap.js';
import type { Codec } from '../maps/codecs.js';
import type { TypedMap } from '../maps/typedMap.js';
import type { BpfProgram } from '../programs/bpfProgram.js';
import { LoadError, argumentError, checkString } from '../errors.js';
import { BpfVariable } from './variable.js';

/** Anything the object owns and undoes in close(), e.g. an attachment. */
export interface Closeable {
  close(): void;
}

/**
 * A loaded object: owns every map, program and attachment the load made.
 * map_fd[] / prog_fd[] lend numbers valid until close(), which sets them to -1
 * so a stale copy of the array cannot reach an fd number reused since.
 */
export class BpfObject {
  readonly file: string;
  /** in the order of the map definitions' offsets in `maps`, like bpf_load.c's map_fd[] */
  readonly map_fd: number[];
  /** in section order, like bpf_load.c's prog_fd[] */
  readonly prog_fd: number[];
  #closed = false;
  /** made by the first variable() */
  #variables: Map<string, BpfVariable> | undefined;

  constructor(
    readonly spec: ObjectSpec,
    readonly maps: readonly BpfMap[],
    readonly programs: readonly BpfProgram[],
    /** attachments made by the load (options.attach); closed first */
    readonly attachments: readonly Closeable[] = [],
  ) {
    this.file = spec.file;
    this.map_fd = [];
    for (const map of maps) this.map_fd.push(map.fd);
    this.prog_fd = [];
    for (const program of programs) this.prog_fd.push(program.fd);
  }

  /**
   * The map with this name in the object; throws when there is none. With
   * codecs, a decoded view of it: `obj.map('counts', { key: u32, value: u64 })`
   * (per-CPU maps: `obj.map('x').perCpu(u32, u64)`).
   */
  map(name: string): BpfMap;
  map<K, V, KIn = K, VIn = V>(name: string, codecs: { key: Codec<K, KIn>; value: Codec<V, VIn> }): TypedMap<K, V, KIn, VIn>;
  map<K, V, KIn, VIn>(name: string, codecs?: { key: Codec<K, KIn>; value: Codec<V, VIn> }): BpfMap | TypedMap<K, V, KIn, VIn> {
    checkString(name, 'name', 'map');
    if (codecs !== undefined && (typeof codecs !== 'object' || codecs === null)) {
      throw argumentError('map', 'codecs', '{ key, value } codecs', codecs);
    }
    const found = this.#findMap(name);
    return codecs ? found.typed(codecs.key, codecs.value) : found;
  }

  #checkOpen(what: string): void {
    if (this.#closed) {
      throw new LoadError(`${what}: the object was closed, and its maps and programs with it`, { file: this.file }, { code: 'BPF_LOAD_FD_CLOSED' });
    }
  }

  #findMap(name: string): BpfMap {
    this.#checkOpen(`map('${name}')`);
    const found = this.maps.find((m) => m.name === name);
    if (!found) {
      throw new LoadError(`no map named '${name}' (maps: ${this.maps.map((m) => m.name).join(', ') || 'none'})`, {
        file: this.file,
      });
    }
    return found;
  }

  /** A global variable (`.bss`, `.data`, `.rodata`…) by name, read and written in the loaded data map. */
  variable(name: string): BpfVariable {
    checkString(name, 'name', 'variable');
    this.#checkOpen(`variable('${name}')`);
    const cached = this.#variables?.get(name);
    if (cached) return cached;
    const spec = this.spec.variables?.[name];
    if (!spec || !Object.hasOwn(this.spec.variables!, name)) {
      throw new LoadError(`no variable named '${name}' (variables: ${Object.keys(this.spec.variables ?? {}).join(', ') || 'none'})`, {
        file: this.file,
      });
    }
    const variable = new BpfVariable(spec, this.#findMap(spec.map), this.file);
    (this.#variables ??= new Map()).set(name, variable);
    return variable;
  }

  /** The program with this function or section name; throws when there is none. */
  program(name: string): BpfProgram {
    checkString(name, 'name', 'program');
    this.#checkOpen(`program('${name}')`);
    const found = this.programs.find((p) => p.name === name) ?? this.programs.find((p) => p.section === name);
    if (!found) {
      throw new LoadError(
        `no program named '${name}' (programs: ${this.programs.map((p) => p.name).join(', ') || 'none'})`,
        { file: this.file },
      );
    }
    return found;
  }

  get closed(): boolean {
    return this.#closed;
  }

  /** Detach, then close every program and map fd. Pins stay: they are the point of pinning. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.map_fd.fill(-1);
    this.prog_fd.fill(-1);
    // every close() is tried: one that throws leaves none of the rest open. The try is written
    // in each loop rather than in a helper, which would be one more function per close.
    const errors: unknown[] = [];
    for (let i = this.attachments.length - 1; i >= 0; i--) {
      try { this.attachments[i]!.close(); } catch (error) { errors.push(error); }
    }
    if (this.#variables) {
      for (const variable of this.#variables.values()) {
        try { variable.close(); } catch (error) { errors.push(error); }
      }
    }
    for (const program of this.programs) {
      try { program.close(); } catch (error) { errors.push(error); }
    }
    for (const map of this.maps) {
      try { map.close(); } catch (error) { errors.push(error); }
    }
    if (errors.length) {
      throw new LoadError(`close() failed for ${errors.length} object(s): ${errors.map((e) => (e as Error)?.message ?? String(e)).join('; ')}`, {
        file: this.file,
      }, { cause: new AggregateError(errors) });
    }
  }

  [Symbol.dispose](): void {
    this.close();
  }
}
