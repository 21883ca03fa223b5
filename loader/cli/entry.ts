/**
 * What the CLI bundle's entry does: run the command and set the exit status.
 * A promise chain, not top-level await: the bundle is CommonJS, which has none.
 */
export function runEntry(command: (argv: string[]) => Promise<number>): void {
  void command(process.argv.slice(2)).then((status) => {
    process.exitCode = status;
  });
}
