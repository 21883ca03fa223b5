/**
 * Where a load pinned (or found pinned and reused) each of its maps and
 * programs, so the objects and the CLI can say so. Kept beside the objects,
 * not in them: pinning is a step of the load, not a property of a map.
 */
const paths = new WeakMap<object, string>();

export function recordPin(owner: object, path: string): void {
  paths.set(owner, path);
}

export function pinPathOf(owner: object): string | undefined {
  return paths.get(owner);
}
