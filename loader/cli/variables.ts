import type { ObjectSpec } from '../../elf/index.js';
import { LoadError } from '../errors.js';

/**
 * `--set NAME=VALUE`: each value read as its variable's BTF type says (integers in decimal or
 * 0x hex, 8-byte ones as bigints; true/false/1/0; strings for char arrays; hex for raw bytes).
 */
export function cliVariables(spec: ObjectSpec, settings: readonly string[]): Record<string, unknown> {
  const refuse = (message: string): never => {
    throw new LoadError(message, { file: spec.file }, { code: 'BPF_LOAD_ARGUMENT' });
  };
  const variables: Record<string, unknown> = {};
  for (const setting of settings) {
    const equals = setting.indexOf('=');
    if (equals <= 0) refuse(`--set ${setting}: give NAME=VALUE`);
    const name = setting.slice(0, equals);
    const text = setting.slice(equals + 1);
    const variable = spec.variables?.[name];
    if (!variable || !Object.hasOwn(spec.variables!, name)) {
      refuse(`--set ${name}: no variable of that name (variables: ${Object.keys(spec.variables ?? {}).join(', ') || 'none'})`);
    }
    const type = variable!.type;
    switch (type.kind) {
      case 'int': {
        if (!/^-?(0x[0-9a-fA-F]+|[0-9]+)$/.test(text)) refuse(`--set ${name}=${text}: not an integer`);
        const negative = text.startsWith('-');
        const value = BigInt(negative ? text.slice(1) : text) * (negative ? -1n : 1n);
        variables[name] = type.size === 8 ? value : Number(value);
        break;
      }
      case 'bool':
        if (!['true', 'false', '1', '0'].includes(text)) refuse(`--set ${name}=${text}: a bool is true, false, 1 or 0`);
        variables[name] = text === 'true' || text === '1';
        break;
      case 'chars':
        variables[name] = text;
        break;
      default: {
        const hex = text.replace(/^0x/, '');
        if (!/^([0-9a-fA-F]{2})*$/.test(hex)) refuse(`--set ${name}=${text}: give the ${variable!.size} bytes in hex`);
        variables[name] = Uint8Array.from(hex.match(/../g) ?? [], (byte) => parseInt(byte, 16));
      }
    }
  }
  return variables;
}
