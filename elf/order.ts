/**
 * Sorts `items` in place by `compare`, as Array.prototype.sort does (stably),
 * unless they are in that order already, as a compiler's symbols and
 * relocations usually are: a parse then never enters the sort.
 */
export function sortUnlessSorted<T>(items: T[], compare: (a: T, b: T) => number): T[] {
  for (let i = 1; i < items.length; i++) if (compare(items[i - 1]!, items[i]!) > 0) return items.sort(compare);
  return items;
}
