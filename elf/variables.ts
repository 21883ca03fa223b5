// Global variables as values: encoding and decoding by their BTF-derived type, and setting one
// in a spec before load (it edits the initial bytes of the data map that holds it).

import { ElfError } from './errors.js';
import type { ObjectSpec, VariableSpec } from './types.js';

export type VariableValue = number | bigint | boolean | string | Uint8Array;

/** The value of a variable from its bytes (little-endian unless told). */
export function decodeVariable(variable: VariableSpec, bytes: Uint8Array, littleEndian = true): VariableValue {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const type = variable.type;
  switch (type.kind) {
    case 'bool':
      return bytes[0] !== 0;
    case 'int':
      switch (type.size) {
        case 1: return type.signed ? view.getInt8(0) : view.getUint8(0);
        case 2: return type.signed ? view.getInt16(0, littleEndian) : view.getUint16(0, littleEndian);
        case 4: return type.signed ? view.getInt32(0, littleEndian) : view.getUint32(0, littleEndian);
        default: return type.signed ? view.getBigInt64(0, littleEndian) : view.getBigUint64(0, littleEndian);
      }
    case 'chars': {
      const end = bytes.indexOf(0);
      return new TextDecoder().decode(bytes.subarray(0, end < 0 ? bytes.length : end));
    }
    default:
      return bytes.slice();
  }
}

function refuse(variable: VariableSpec, message: string): never {
  throw new ElfError(`variable '${variable.name}': ${message}`, { section: variable.section }, { code: 'BPF_LOAD_ARGUMENT' });
}

/** The bytes of a value for a variable; a value that does not fit its type is refused, never wrapped. */
export function encodeVariable(variable: VariableSpec, value: unknown, littleEndian = true): Uint8Array {
  const out = new Uint8Array(variable.size);
  const view = new DataView(out.buffer);
  const type = variable.type;
  switch (type.kind) {
    case 'bool':
      if (typeof value !== 'boolean') refuse(variable, `is a bool, not ${typeof value}`);
      out[0] = value ? 1 : 0;
      return out;
    case 'int': {
      if (typeof value !== 'number' && typeof value !== 'bigint') refuse(variable, `is a ${type.signed ? '' : 'u'}int${type.size * 8}, not ${typeof value}`);
      if (typeof value === 'number' && !Number.isInteger(value)) refuse(variable, `${value} is not an integer`);
      const big = BigInt(value);
      const bits = BigInt(type.size * 8);
      const min = type.signed ? -(1n << (bits - 1n)) : 0n;
      const max = type.signed ? (1n << (bits - 1n)) - 1n : (1n << bits) - 1n;
      if (big < min || big > max) refuse(variable, `${value} does not fit a ${type.signed ? '' : 'u'}int${type.size * 8} (${min}..${max})`);
      const unsigned = BigInt.asUintN(type.size * 8, big);
      for (let i = 0; i < type.size; i++) out[littleEndian ? i : type.size - 1 - i] = Number((unsigned >> BigInt(8 * i)) & 0xffn);
      void view;
      return out;
    }
    case 'chars': {
      if (typeof value !== 'string') refuse(variable, `is a char[${type.length}], not ${typeof value}`);
      const encoded = new TextEncoder().encode(value);
      if (encoded.length >= type.length) refuse(variable, `'${value}' takes ${encoded.length} bytes; char[${type.length}] holds ${type.length - 1} and the NUL`);
      out.set(encoded);
      return out;
    }
    default:
      if (!(value instanceof Uint8Array) || value.length !== variable.size) refuse(variable, `takes ${variable.size} raw bytes (a Uint8Array)`);
      out.set(value);
      return out;
  }
}

/** Set a global variable of the spec before load: its data map's initial bytes change. */
export function setVariable(spec: ObjectSpec, name: string, value: unknown): void {
  const variable = spec.variables?.[name];
  if (!variable || !Object.hasOwn(spec.variables!, name)) {
    throw new ElfError(`no variable named '${name}' (variables: ${Object.keys(spec.variables ?? {}).join(', ') || 'none'})`, { file: spec.file }, {
      code: 'BPF_LOAD_ARGUMENT',
    });
  }
  const map = spec.maps[variable.map];
  if (!map?.initialValue) throw new ElfError(`variable '${name}': its map '${variable.map}' has no initial value`, { file: spec.file });
  map.initialValue.set(encodeVariable(variable, value, spec.byteOrder === 'little'), variable.offset);
}
