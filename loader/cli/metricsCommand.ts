import { existsSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { join, resolve } from 'node:path';
import type { Registry, RegistryContentType } from 'prom-client';
import type { ObjectSpec } from '../../elf/index.js';
import type { Attachment } from '../attach/attachment.js';
import { attachXdp } from '../attach/xdp.js';
import { LoadError } from '../errors.js';
import { loadBpfObject, loadObjectSpec } from '../load/loadBpfFile.js';
import type { BpfObject } from '../load/bpfObject.js';
import type { BpfMap } from '../maps/bpfMap.js';
import { openPinnedMap } from '../maps/openMap.js';
import { checkMetricsAgainstMaps, mapShapesOfSpec, promClient, registerMapMetrics } from '../metrics/mapMetrics.js';
import { configError, readMetricsConfig, type MapMetricsConfig } from '../metrics/config.js';
import type { LoadOptions } from '../options.js';
import { EXIT_OK, PROGRAM_NAME, reportCliError, type CliIo } from './common.js';
import { describeAttachments } from './programs.js';
import { realIo } from './realIo.js';
import { SignalWatch, exitStatusForSignal } from './signals.js';

export interface MetricsCommandOptions {
  /** the object to load (xxx_kern.o); or pinned */
  file?: string;
  /** export maps another process pinned here (DIR/maps/NAME, as --pin lays them out, or DIR/NAME), loading nothing */
  pinned?: string;
  /** the metrics config: ebpf_exporter's format, YAML or JSON */
  config: string;
  /** HOST:PORT to serve /metrics on ([::1]:PORT for IPv6) */
  listen: string;
  /** the load options the main command builds (convention, pins, programs…); the programs are attached as --attach does */
  load?: LoadOptions;
  /** attach the object's XDP program to these interfaces: IFNAME or IFNAME:PROGRAM (XDP needs a target the section cannot name) */
  xdp?: readonly string[];
  /** with the stack of an error */
  verbose?: boolean;
  io?: CliIo;
  signals?: SignalWatch;
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
 * signal ended the hold, 2 for a bad config or argument (nothing loaded), 1
 * for what the kernel or the system refused.
 */
export async function runMetricsCommand(options: MetricsCommandOptions): Promise<number> {
  const io = options.io ?? realIo;
  const signals = options.signals ?? new SignalWatch();
  try {
    return await run(options, io, signals);
  } catch (error) {
    return reportCliError(error, PROGRAM_NAME, options.verbose === true, io);
  } finally {
    if (!options.signals) signals.dispose();
  }
}

async function run(options: MetricsCommandOptions, io: CliIo, signals: SignalWatch): Promise<number> {
  if ((options.file === undefined) === (options.pinned === undefined)) {
    throw usage('metrics takes an object file or --pinned DIR (one of the two)');
  }
  if (options.pinned !== undefined && (options.load !== undefined || options.xdp?.length)) {
    throw usage('--pinned DIR exports maps already loaded: it takes no load options and attaches nothing');
  }
  const address = parseListen(options.listen);
  const config = readMetricsConfig(options.config);
  // judged against the object before anything is loaded or bound
  const spec = options.file === undefined ? undefined : await loadObjectSpec(options.file, pick(options.load));
  if (spec) checkMetricsAgainstMaps(config, mapShapesOfSpec(spec.maps), options.config);
  // bind before loading: a port in use leaves nothing loaded behind
  const registries = { text: new (promClient().Registry)(), open: openMetricsRegistry() };
  let ready = false;
  const server = await listen(address, (request, response) => void serve(request, response, ready ? registries : undefined).catch(() => response.destroy()));
  try {
    if (signals.received) return interrupted(signals.received, 'before anything was loaded', io);
    const exported = spec ? loadAndAttach(spec, options) : openPinned(options.pinned!, config, options.config);
    try {
      for (const registry of Object.values(registries)) registerMapMetrics(exported.maps, config, { registry, source: options.config });
      ready = true;
      const bound = server.address();
      const where = typeof bound === 'object' && bound ? `${bound.family === 'IPv6' ? `[${bound.address}]` : bound.address}:${bound.port}` : options.listen;
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

function loadAndAttach(spec: ObjectSpec, options: MetricsCommandOptions): Exported {
  const object = loadBpfObject(spec, { ...options.load, attach: true });
  const attached: Attachment[] = [];
  try {
    for (const target of options.xdp ?? []) attached.push(attachXdp(xdpProgram(object, target), target.split(':')[0]!));
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

function xdpProgram(object: BpfObject, target: string): BpfObject['programs'][number] {
  const [ifname = '', ...rest] = target.split(':');
  const name = rest.join(':');
  if (ifname === '') throw usage(`--xdp takes IFNAME[:PROGRAM], not '${target}'`);
  if (name !== '') return object.program(name);
  const xdp = object.programs.filter((p) => p.kind === 'xdp');
  if (xdp.length === 1) return xdp[0]!;
  throw new LoadError(`--xdp ${target}: say which program: ${ifname}:PROGRAM (XDP programs: ${xdp.map((p) => p.name).join(', ') || 'none'})`, {
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

function pick(load: LoadOptions | undefined): Pick<LoadOptions, 'convention' | 'programs'> {
  return { ...(load?.convention ? { convention: load.convention } : {}), ...(load?.programs ? { programs: load.programs } : {}) };
}

function usage(message: string): LoadError {
  return new LoadError(message, {}, { code: 'BPF_LOAD_ARGUMENT' });
}

/** HOST:PORT, [IPV6]:PORT or :PORT (every address). */
export function parseListen(listen: string): { host: string | undefined; port: number } {
  const match = /^(?:\[([^\]]+)\]|([^:[\]]*)):(\d{1,5})$/.exec(String(listen));
  const port = match ? Number(match[3]) : NaN;
  if (!match || port > 65535) throw usage(`--listen takes HOST:PORT (e.g. 127.0.0.1:9435, [::1]:9435 or :9435), not '${listen}'`);
  const host = match[1] ?? match[2];
  return { host: host === '' ? undefined : host, port };
}

function listen(address: { host: string | undefined; port: number }, handler: (request: IncomingMessage, response: ServerResponse) => void): Promise<Server> {
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
