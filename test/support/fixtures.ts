import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** The repository root: tests run from dist/test/..., fixtures stay in the source tree. */
export const repoRoot = join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..');

export function fixturePath(name: string): string {
  return join(repoRoot, 'fixtures', name);
}

export function fixtureBytes(name: string): Uint8Array {
  return readFileSync(fixturePath(name));
}
