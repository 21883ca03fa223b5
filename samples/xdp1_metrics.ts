// xdp1's per-protocol packet counters as Prometheus metrics, from a Node service of its own: the
// maps go into the service's prom-client registry beside its own metrics, and are read at each scrape.
//   sudo node dist/samples/xdp1_metrics.js IFNAME [--listen HOST:PORT] [--config FILE] [--duration N]
//   sudo node dist/samples/xdp1_metrics.js --demo [--listen HOST:PORT] [--duration N]
import { createServer } from 'node:http';
import { join } from 'node:path';
import { Counter, Registry } from 'prom-client';
import { attachXdp, loadBpfFile, readMetricsConfig, registerMapMetrics } from '../loader/index.js';
import { deferStopSignals, everySecond, fail, fixture, repoRoot, runSample, sampleArgs } from './common.js';
import { createDemoPair } from './vethPair.js';

const USAGE = `usage: xdp1_metrics IFNAME [--listen HOST:PORT] [--config FILE] [--duration N]
       xdp1_metrics --demo [--listen HOST:PORT] [--duration N]
Attaches fixtures/xdp1_kern.o to IFNAME and serves its rxcnt map (packets per IP
protocol) at http://HOST:PORT/metrics (default 127.0.0.1:9435), with the config
samples/xdp1.yaml (ebpf_exporter's format). xdp1 DROPS every packet: do not use
it on the interface you are logged in through. --demo makes a veth pair in a
network namespace of its own and sends UDP datagrams through it every second.`;

runSample(async () => {
  deferStopSignals();
  const { values, positionals, duration } = sampleArgs(USAGE, {
    demo: { type: 'boolean', default: false },
    listen: { type: 'string', default: '127.0.0.1:9435' },
    config: { type: 'string', default: join(repoRoot, 'samples', 'xdp1.yaml') },
  });
  const listen = /^(.*):(\d+)$/.exec(String(values.listen));
  if (!listen) fail(`xdp1_metrics: --listen takes HOST:PORT, not '${values.listen}'\n${USAGE}`);
  const config = readMetricsConfig(String(values.config));
  const demo = values.demo
    ? createDemoPair('xdp1_metrics', { namespace: `xdp1m-demo-${process.pid}`, host: `xdp1m${process.pid % 100000}`, subnet: 201 })
    : undefined;
  const ifname = demo?.host ?? positionals[0];
  if (!ifname) fail(USAGE);

  let object;
  let attachment;
  try {
    object = await loadBpfFile(fixture('xdp1_kern.o'));
    attachment = attachXdp(object.programs[0]!, ifname);
  } catch (error) {
    object?.close();
    demo?.remove();
    throw error;
  }
  // the service's own registry: its metrics and the map's, served together
  const registry = new Registry();
  const scrapes = new Counter({ name: 'xdp1_metrics_scrapes_total', help: 'Scrapes of this service', registers: [registry] });
  registerMapMetrics(object, config, { registry });
  const server = createServer((request, response) => {
    if (request.url !== '/metrics') return void response.writeHead(404).end();
    scrapes.inc();
    registry.metrics().then(
      (body) => response.writeHead(200, { 'content-type': registry.contentType }).end(body),
      (error: Error) => response.writeHead(500).end(error.message),
    );
  });
  server.listen(Number(listen[2]), listen[1], () => {
    console.log(`xdp1_metrics: counting packets per IP protocol on ${ifname}; metrics at http://${values.listen}/metrics`);
  });
  everySecond(
    duration,
    () => demo?.sendUdp(3),
    () => {
      server.close();
      server.closeAllConnections();
      attachment.close();
      object.close();
      demo?.remove();
    },
  );
  demo?.sendUdp(3);
});
