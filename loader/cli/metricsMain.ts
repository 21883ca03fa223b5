import { parseArgs } from 'node:util';
import { runEntry } from './entry.js';
import { EXIT_USAGE } from './common.js';
import { runMetricsCommand } from './metricsCommand.js';
import type { LoadOptions } from '../options.js';

/**
 * `metrics` as a process of its own until the CLI's parser takes it in:
 *   node dist/loader/cli/metricsMain.js FILE --config C.yaml --listen HOST:PORT [--xdp IFNAME[:PROG]]
 *     [--pin DIR [--reuse-pinned] [--force]] [--convention tc] [--verbose]
 *   node dist/loader/cli/metricsMain.js --pinned DIR --config C.yaml --listen HOST:PORT
 */
runEntry(async (argv, signals) => {
  let parsed;
  try {
    parsed = parseArgs({
      args: argv,
      allowPositionals: true,
      options: {
        config: { type: 'string' }, listen: { type: 'string' }, pinned: { type: 'string' }, xdp: { type: 'string', multiple: true },
        pin: { type: 'string' }, 'reuse-pinned': { type: 'boolean' }, force: { type: 'boolean' }, convention: { type: 'string' }, verbose: { type: 'boolean' },
      },
    });
  } catch (error) {
    process.stderr.write(`load-kern-object metrics: ${(error as Error).message}\n`);
    return EXIT_USAGE;
  }
  const { values, positionals } = parsed;
  if (values.config === undefined || values.listen === undefined || positionals.length > 1) {
    process.stderr.write('load-kern-object metrics: usage: metrics FILE|--pinned DIR --config FILE --listen HOST:PORT\n');
    return EXIT_USAGE;
  }
  const load: LoadOptions = {
    ...(values.convention ? { convention: values.convention as 'samples' | 'tc' } : {}),
    ...(values.pin ? { pinDir: values.pin } : {}),
    ...(values['reuse-pinned'] ? { reusePinned: true } : {}),
    ...(values.force ? { force: true } : {}),
  };
  try {
    return await runMetricsCommand({
      ...(positionals[0] !== undefined ? { file: positionals[0] } : {}),
      ...(values.pinned !== undefined ? { pinned: values.pinned } : {}),
      config: values.config,
      listen: values.listen,
      ...(positionals[0] !== undefined ? { load } : {}),
      ...(values.xdp ? { xdp: values.xdp } : {}),
      verbose: values.verbose === true,
      signals,
    });
  } finally {
    signals.dispose();
  }
});
