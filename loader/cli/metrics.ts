import { existsSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { join, resolve } from 'node:path';
import type { Registry, RegistryContentType } from 'prom-client';
import type { ObjectSpec } from '../../elf/index.js';
import type { Attachment } from '../attach/attachment.js';
import { attachXdp } from '../attach/xdp.js';
import { LoadError } from '../errors.js';
import { loadBpfObject, readObjectSpec } from '../load/loadBpfFile.js';
import type { BpfObject } from '../load/bpfObject.js';
import type { BpfMap } from '../maps/bpfMap.js';
import { openPinnedMap } from '../maps/openMap.js';
import { checkMetricsAgainstMaps, mapShapesOfSpec, promClient, registerMapMetrics } from '../metrics/mapMetrics.js';
import { configError, readMetricsConfig, type MapMetricsConfig } from '../metrics/config.js';
import type { LoadObjectOptions } from '../options.js';
import type { CliContext } from './command.js';
import { EXIT_OK, PROGRAM_NAME, type CliIo } from './common.js';
import type { LoadArgs } from './loadOptions.js';
import { checkPersistentBpffs, pinLoadOptions } from './pinCommands.js';
import { describeAttachments, programLoadOptions } from './programs.js';
import { exitStatusForSignal } from './signals.js';
import { tcLoadOptions } from './tc.js';

/** What the metrics command's options parse to (the camelCase spellings). */
export interface MetricsArgs
  extends Pick<LoadArgs, 'verbose' | 'convention' | 'pin' | 'force' | 'reusePinned' | 'bpffs' | 'programs' | 'type' | 'logLevel'> {
  /** the object to load (xxx_kern.o); or pinned */
  file?: string;
  /** export maps another process pinned here (DIR/maps/NAME, as --pin lays them out, or DIR/NAME), loading nothing */
  pinned?: string;
  /** the metrics config: ebpf_exporter's format, YAML or JSON */
  config: string;
  /** where to serve /metrics: --listen HOST:PORT ([::1]:PORT for IPv6, :PORT for every address) */
  listen: ListenAddress;
  /** attach the object's XDP program to these interfaces (XDP needs a target the section cannot name) */
  xdp?: XdpTarget[];
}

/** --listen, parsed. */
export interface ListenAddress {
  /** undefined: every address */
  host: string | undefined;
  port: number;
  /** as given */
  text: string;
}

/** One --xdp IFNAME[:PROGRAM]. */
export interface XdpTarget {
  ifname: string;
  /** function or section name; undefined: the object's only XDP program */
  program: string | undefined;
  /** as given */
  text: string;
}

/** What the metrics serve from: the maps, and what to undo at the end. */
interface Exported {
  maps: BpfObject | Map<string, BpfMap>;
  what: string;
  attachments: Attachment[];
  close(): void;
}

/**
 * `load-kern-object metrics`: load the object (or open pinned maps), attach
 * its programs, serve its maps as Prometheus metrics on /metrics until
 * SIGINT/SIGTERM, then detach. Resolves to the exit status: 0 after a
 * signal ended the hold; a bad config or argument (nothing loaded) and what
 * the kernel or the system refused are thrown, for the caller to report.
 */
export async function runMetrics(args: MetricsArgs, { io, signals }: CliContext): Promise<number> {
  if (signals.received) return interrupted(signals.received, 'before anything was loaded', io);
  const config = readMetricsConfig(args.config);
  const programOptions = programLoadOptions({ ...args, attach: true });
  // judged against the object before anything is loaded or bound
  const spec = args.file === undefined ? undefined : readObjectSpec(args.file, {
    convention: args.convention,
    ...(Array.isArray(programOptions.programs) ? { sections: programOptions.programs } : {}),
  });
  if (spec) checkMetricsAgainstMaps(config, mapShapesOfSpec(spec), args.config);
  if (spec && args.pin !== undefined) checkPersistentBpffs(args.pin);
  // bind before loading: a port in use leaves nothing loaded behind
  const registries = { text: new (promClient().Registry)(), open: openMetricsRegistry() };
  let ready = false;
  const server = await listen(args.listen, (request, response) => void serve(request, response, ready ? registries : undefined).catch(() => response.destroy()));
  try {
    if (signals.received) return interrupted(signals.received, 'before anything was loaded', io);
    const exported = spec
      ? loadAndAttach(spec, args, {
        ...pinLoadOptions(args),
        ...programOptions,
        ...tcLoadOptions(args),
        onWarning: (message) => io.err(`warning: ${message}`),
      }, io)
      : openPinned(args.pinned!, config, args.config);
    try {
      for (const registry of Object.values(registries)) registerMapMetrics(exported.maps, config, { registry, source: args.config });
      ready = true;
      const bound = server.address();
      const where = typeof bound === 'object' && bound ? `${bound.family === 'IPv6' ? `[${bound.address}]` : bound.address}:${bound.port}` : args.listen.text;
      io.out(`serving the metrics of ${exported.what} on http://${where}/metrics`);
      io.out(exported.attachments.length ? `attached: ${describeAttachments(exported.attachments)}` : 'attached: nothing');
      io.out('press Ctrl-C to detach and exit');
      await signals.wait();
    } finally {
      ready = false;
      exported.close();
    }
  } finally {
    await closeServer(server);
  }
  return EXIT_OK;
}

function loadAndAttach(spec: ObjectSpec, args: MetricsArgs, options: LoadObjectOptions, io: CliIo): Exported {
  const object = loadBpfObject(spec, options);
  const attached: Attachment[] = [];
  try {
    if (args.logLevel !== undefined) printLogs(object, io);
    for (const target of args.xdp ?? []) attached.push(attachXdp(xdpProgram(object, target), target.ifname));
  } catch (error) {
    for (const attachment of attached.reverse()) attachment.close();
    object.close();
    throw error;
  }
  return {
    maps: object,
    what: spec.file,
    attachments: [...(object.attachments as Attachment[]), ...attached],
    close: () => {
      for (const attachment of [...attached].reverse()) attachment.close();
      object.close();
    },
  };
}

function xdpProgram(object: BpfObject, target: XdpTarget): BpfObject['programs'][number] {
  if (target.program !== undefined) return object.program(target.program);
  const xdp = object.programs.filter((p) => p.kind === 'xdp');
  if (xdp.length === 1) return xdp[0]!;
  throw new LoadError(`--xdp ${target.text}: say which program: ${target.ifname}:PROGRAM (XDP programs: ${xdp.map((p) => p.name).join(', ') || 'none'})`, {
    file: object.file,
  }, { code: 'BPF_LOAD_ARGUMENT' });
}

/** The maps of the config's metrics, from DIR/maps/NAME (the --pin layout) or DIR/NAME; all or none are opened. */
function openPinned(dir: string, config: MapMetricsConfig, source: string): Exported {
  const maps = new Map<string, BpfMap>();
  const close = (): void => {
    for (const map of maps.values()) map.close();
  };
  try {
    for (const metric of [...(config.metrics.counters ?? []), ...(config.metrics.histograms ?? [])]) {
      const candidates = [join(dir, 'maps', metric.name), join(dir, metric.name)];
      const path = candidates.find((p) => existsSync(p));
      if (path === undefined) {
        throw configError(source, [`metric '${metric.name}'`], `no map pinned at ${candidates.join(' or ')}`);
      }
      maps.set(metric.name, openPinnedMap(path, { readOnly: true, name: metric.name }));
    }
  } catch (error) {
    close();
    throw error;
  }
  return { maps, what: `the maps pinned in ${resolve(dir)}`, attachments: [], close };
}

/** --log-level: the verifier's log of each program, on stderr (stdout says what is served). */
function printLogs(object: BpfObject, io: CliIo): void {
  for (const program of object.programs) {
    io.err(program.verifierLog ? `-- verifier log of ${program.name} --\n${program.verifierLog.trimEnd()}` : `-- verifier log of ${program.name}: empty --`);
  }
}

function listen(address: ListenAddress, handler: (request: IncomingMessage, response: ServerResponse) => void): Promise<Server> {
  const server = createServer(handler);
  // Prometheus keeps its connection between scrapes (15 s, up to a minute apart): keep it open longer than
  // that, instead of Node's 5 s, after which a scrape races the server closing the idle socket under it
  server.keepAliveTimeout = 65_000;
  server.headersTimeout = 66_000;
  return new Promise((resolvePromise, reject) => {
    server.once('error', (error: NodeJS.ErrnoException) => {
      const where = `${address.host ?? '*'}:${address.port}`;
      const argument = error.code === 'EADDRNOTAVAIL' || error.code === 'ENOTFOUND';
      reject(new LoadError(`cannot listen on ${where}: ${error.code ?? error.message}`, {}, {
        code: argument ? 'BPF_LOAD_ARGUMENT' : 'BPF_LOAD_SYSTEM',
        hint: error.code === 'EADDRINUSE' ? 'another process serves that port' : error.code === 'EACCES' ? 'ports below 1024 need CAP_NET_BIND_SERVICE' : undefined,
      }));
    });
    server.listen(address.port, address.host, () => resolvePromise(server));
  });
}

function closeServer(server: Server): Promise<void> {
  return new Promise((resolvePromise) => {
    server.close(() => resolvePromise());
    server.closeAllConnections();
  });
}

const OPENMETRICS = 'application/openmetrics-text';

/** A registry that writes OpenMetrics (its own metric objects: OpenMetrics renames counters as it writes them). */
function openMetricsRegistry(): Registry {
  const { Registry } = promClient();
  const registry = new Registry<RegistryContentType>();
  registry.setContentType(Registry.OPENMETRICS_CONTENT_TYPE);
  return registry as unknown as Registry;
}

/** /metrics in the format the scraper asks for: OpenMetrics when its Accept names it, else Prometheus text. */
async function serve(request: IncomingMessage, response: ServerResponse, registries: { text: Registry; open: Registry } | undefined): Promise<void> {
  const path = (request.url ?? '/').split('?')[0];
  if (request.method !== 'GET' && request.method !== 'HEAD') {
    response.writeHead(405, { allow: 'GET, HEAD', 'content-type': 'text/plain' }).end('only GET and HEAD\n');
    return;
  }
  if (path === '/') {
    response.writeHead(200, { 'content-type': 'text/plain' }).end(`${PROGRAM_NAME} metrics: see /metrics\n`);
    return;
  }
  if (path !== '/metrics') {
    response.writeHead(404, { 'content-type': 'text/plain' }).end('not found: the metrics are at /metrics\n');
    return;
  }
  if (!registries) {
    response.writeHead(503, { 'content-type': 'text/plain' }).end('not ready\n');
    return;
  }
  const registry = acceptsOpenMetrics(request.headers.accept) ? registries.open : registries.text;
  try {
    const body = await registry.metrics();
    response.writeHead(200, { 'content-type': registry.contentType });
    response.end(request.method === 'HEAD' ? undefined : body);
  } catch (error) {
    response.writeHead(500, { 'content-type': 'text/plain' }).end(`cannot read the maps: ${(error as Error).message}\n`);
  }
}

/** True when the Accept header takes OpenMetrics with a q above 0 (Prometheus asks for it first). */
export function acceptsOpenMetrics(accept: string | undefined): boolean {
  if (!accept) return false;
  return accept.split(',').some((part) => {
    const [type = '', ...params] = part.split(';').map((s) => s.trim());
    if (type.toLowerCase() !== OPENMETRICS) return false;
    const q = params.find((p) => p.startsWith('q='));
    return q === undefined || Number(q.slice(2)) > 0;
  });
}

function interrupted(signal: NodeJS.Signals, when: string, io: CliIo): number {
  io.err(`${PROGRAM_NAME}: interrupted by ${signal} ${when}`);
  return exitStatusForSignal(signal);
}
