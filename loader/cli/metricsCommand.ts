import { baseOptions, checkWith, type CliArgs, type CliCommand } from './command.js';
import { CONVENTION_OPTIONS, PIN_OPTIONS, PROGRAM_OPTIONS } from './loadOptions.js';
import type { ListenAddress, MetricsArgs, XdpTarget } from './metrics.js';

/**
 * `load-kern-object metrics FILE --config C --listen HOST:PORT`: load and
 * attach FILE (or open maps pinned under --pinned DIR), serve its maps as
 * Prometheus metrics until SIGINT/SIGTERM. prom-client and yaml are loaded
 * by run(), never by --help or the other commands.
 */
export const metricsCommand: CliCommand = {
  name: 'metrics',
  command: 'metrics [file]',
  describe: "serve FILE's maps (or maps pinned under --pinned DIR) as Prometheus metrics on /metrics, in ebpf_exporter's config format",
  usage:
    '$0 metrics FILE --config CONFIG --listen HOST:PORT [options]\n$0 metrics --pinned DIR --config CONFIG --listen HOST:PORT\n\n' +
      'Load FILE (with the load options of the default command), attach its programs the way their section names say ' +
      '(as --attach does; XDP programs with --xdp), and serve the maps CONFIG names as Prometheus counters and ' +
      "histograms on http://HOST:PORT/metrics, read at each scrape. CONFIG is ebpf_exporter's (YAML or JSON: " +
      'metrics.counters[] and metrics.histograms[], labels decoded from the key). With --pinned DIR nothing is loaded: ' +
      'the maps pinned at DIR/maps/NAME (the --pin layout) or DIR/NAME are served. Holds until Ctrl-C or SIGTERM, ' +
      'then detaches and exits 0. A config that does not fit the maps is refused before anything is loaded (exit 2).',
  builder: (yargs) =>
    yargs
      .positional('file', { type: 'string', describe: 'the object file (or --pinned DIR)' })
      .options({
        verbose: baseOptions('')['verbose']!,
        config: {
          type: 'string',
          demandOption: true,
          requiresArg: true,
          describe: "the metrics config, in ebpf_exporter's format: YAML, or JSON",
        },
        listen: {
          type: 'string',
          demandOption: true,
          requiresArg: true,
          describe: 'serve /metrics at HOST:PORT (127.0.0.1:9435, [::1]:9435, or :9435 for every address)',
          coerce: (value: unknown) => parseListen(String(Array.isArray(value) ? value.at(-1) : value)),
        },
        pinned: {
          type: 'string',
          requiresArg: true,
          describe: 'load nothing: serve the maps another process pinned at DIR/maps/NAME (as --pin lays them out) or DIR/NAME',
        },
        xdp: {
          type: 'string',
          requiresArg: true,
          describe: "attach the object's XDP program at IFNAME[:PROGRAM] (PROGRAM by function or section name, default its only XDP program); repeat --xdp for more",
          coerce: (values: unknown) => (Array.isArray(values) ? values : [values]).map((value) => parseXdpTarget(String(value))),
        },
        ...CONVENTION_OPTIONS,
        ...PROGRAM_OPTIONS,
        ...PIN_OPTIONS,
      })
      .check((args) => checkWith(checkMetricsArgs)(args as CliArgs))
      .example('$0 metrics xdp1_kern.o --config xdp1.yaml --listen 127.0.0.1:9435 --xdp eth0', "xdp1's per-protocol counters")
      .example('$0 metrics --pinned /sys/fs/bpf/app --config app.yaml --listen :9435', 'the maps another process pinned'),
  run: async (args, context) => (await import('./metrics.js')).runMetrics(args as unknown as MetricsArgs, context),
};

/** The options that load or attach something, which --pinned (loading nothing) refuses. */
const LOAD_ONLY = ['pin', 'reuse-pinned', 'bpffs', 'programs', 'type', 'log-level', 'xdp'] as const;

function checkMetricsArgs(args: CliArgs): string | undefined {
  if ((args['file'] === undefined) === (args['pinned'] === undefined)) return 'metrics takes an object FILE or --pinned DIR (one of the two)';
  if (args['pinned'] !== undefined) {
    const given = [...LOAD_ONLY.filter((name) => args[name] !== undefined), ...(args['force'] ? ['force'] : []), ...(args['convention'] === 'tc' ? ['convention'] : [])];
    if (given.length) return `--pinned DIR loads and attaches nothing: it takes no --${given.join(', --')}`;
  }
  if (args['bpffs'] !== undefined && args['convention'] !== 'tc') return '--bpffs needs --convention tc';
  if (args['force'] && args['pin'] === undefined && args['convention'] !== 'tc') return '--force needs --pin DIR or --convention tc';
  return undefined;
}

/** HOST:PORT, [IPV6]:PORT or :PORT (every address). */
export function parseListen(listen: string): ListenAddress {
  const match = /^(?:\[([^\]]+)\]|([^:[\]]*)):(\d{1,5})$/.exec(listen);
  const port = match ? Number(match[3]) : NaN;
  if (!match || port > 65535) throw new Error(`--listen takes HOST:PORT (e.g. 127.0.0.1:9435, [::1]:9435 or :9435), not '${listen}'`);
  const host = match[1] ?? match[2];
  return { host: host === '' ? undefined : host, port, text: listen };
}

/** IFNAME or IFNAME:PROGRAM. */
function parseXdpTarget(value: string): XdpTarget {
  const [ifname = '', ...rest] = value.split(':');
  if (ifname === '') throw new Error(`--xdp takes IFNAME[:PROGRAM], not '${value}'`);
  const program = rest.join(':');
  return { ifname, program: program === '' ? undefined : program, text: value };
}
