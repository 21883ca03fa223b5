/**
 * `dump` and `unpin` have a bundle of their own, a third the size of the
 * whole CLI's: the bin reads this before anything else is loaded, to choose
 * which bundle to run, and main dispatches with it too. CommonJS, so that the
 * bin (CommonJS, for start-up) can require it.
 */
function isPinSubcommand(argv: readonly string[]): boolean {
  return argv[0] === 'dump' || argv[0] === 'unpin';
}

export = { isPinSubcommand };
