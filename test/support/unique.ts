// Names that two test runs on one machine never share: netns, interfaces, pin dirs, cgroups.
let counter = 0;

/** `prefix-<pid base36>-<n>`, at most 15 characters for interface names when prefix is short. */
export function uniqueName(prefix: string): string {
  counter += 1;
  return `${prefix}-${process.pid.toString(36)}-${counter}`;
}
