import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { sleep } from '../support/processes.js';

/** A TCP port free on 127.0.0.1 right now (the kernel picks it), for a server a test starts next. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() => resolve(typeof address === 'object' && address ? address.port : 0));
    });
  });
}

export interface PromSample {
  metric: Record<string, string>;
  value: [number, string];
}

/**
 * A real Prometheus (Debian's package, the binary alone: not its systemd
 * service) scraping `targets` every second, with its own config and TSDB in
 * a temp directory and its web API on a free loopback port.
 */
export class Prometheus {
  readonly #child: ChildProcess;
  readonly #dir: string;
  #log = '';

  private constructor(child: ChildProcess, dir: string, readonly url: string) {
    this.#child = child;
    this.#dir = dir;
    child.stderr!.on('data', (chunk: Buffer) => (this.#log = (this.#log + chunk.toString()).slice(-4000)));
  }

  static async start(targets: string[]): Promise<Prometheus> {
    const dir = mkdtempSync(join(tmpdir(), 'bpf-load-prometheus-'));
    const port = await freePort();
    writeFileSync(join(dir, 'prometheus.yml'), [
      'global:',
      '  scrape_interval: 1s',
      '  scrape_timeout: 900ms',
      'scrape_configs:',
      '  - job_name: bpf',
      '    static_configs:',
      `      - targets: [${targets.map((t) => `'${t}'`).join(', ')}]`,
      '',
    ].join('\n'));
    const child = spawn('prometheus', [
      `--config.file=${join(dir, 'prometheus.yml')}`, `--storage.tsdb.path=${join(dir, 'data')}`,
      `--web.listen-address=127.0.0.1:${port}`, '--log.level=warn',
    ], { stdio: ['ignore', 'ignore', 'pipe'] });
    const prometheus = new Prometheus(child, dir, `http://127.0.0.1:${port}`);
    const deadline = Date.now() + 60_000;
    for (;;) {
      try {
        if ((await fetch(`${prometheus.url}/-/ready`)).ok) return prometheus;
      } catch {
        // not listening yet
      }
      if (child.exitCode !== null || Date.now() > deadline) {
        await prometheus.stop();
        throw new Error(`prometheus did not become ready: ${prometheus.#log}`);
      }
      await sleep(200);
    }
  }

  /** An instant query: what Prometheus has stored, through its HTTP API. */
  async query(expr: string): Promise<PromSample[]> {
    const response = await fetch(`${this.url}/api/v1/query?query=${encodeURIComponent(expr)}`);
    const body = (await response.json()) as { status: string; data?: { result: PromSample[] }; error?: string };
    if (body.status !== 'success') throw new Error(`query ${expr}: ${body.error}`);
    return body.data!.result;
  }

  /** The health of each target as Prometheus saw it at its last scrape. */
  async targets(): Promise<{ health: string; lastError: string; scrapeUrl: string }[]> {
    const body = (await (await fetch(`${this.url}/api/v1/targets`)).json()) as { data: { activeTargets: { health: string; lastError: string; scrapeUrl: string }[] } };
    return body.data.activeTargets;
  }

  /** Poll `expr` until `accept` takes what Prometheus returns. */
  async waitFor(expr: string, accept: (samples: PromSample[]) => boolean, timeoutMs = 30_000): Promise<PromSample[]> {
    const deadline = Date.now() + timeoutMs;
    let last: PromSample[] = [];
    for (;;) {
      last = await this.query(expr);
      if (accept(last)) return last;
      if (Date.now() > deadline) {
        throw new Error(`prometheus: ${expr} never became as expected; last: ${JSON.stringify(last)}; targets: ${JSON.stringify(await this.targets())}`);
      }
      await sleep(250);
    }
  }

  get log(): string {
    return this.#log;
  }

  async stop(): Promise<void> {
    if (this.#child.exitCode === null && this.#child.signalCode === null) {
      const exited = new Promise((resolve) => this.#child.once('exit', resolve));
      this.#child.kill('SIGTERM');
      await Promise.race([exited, sleep(10_000)]);
      if (this.#child.exitCode === null && this.#child.signalCode === null) this.#child.kill('SIGKILL');
    }
    rmSync(this.#dir, { recursive: true, force: true });
  }
}

/** Parse Prometheus text (or OpenMetrics) exposition into samples: name, labels, value. */
export function parseExposition(text: string): { name: string; labels: Record<string, string>; value: number }[] {
  const samples: { name: string; labels: Record<string, string>; value: number }[] = [];
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('#')) continue;
    const match = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
    if (!match) throw new Error(`not an exposition line: ${line}`);
    const labels: Record<string, string> = {};
    for (const pair of (match[2] ?? '').matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g)) labels[pair[1]!] = pair[2]!;
    samples.push({ name: match[1]!, labels, value: Number(match[3]) });
  }
  return samples;
}

/** A histogram config exactly as ebpf_exporter's examples write one (its v2 format), for writesize_kern.o's map. */
export const WRITE_SIZE_HISTOGRAM = `metrics:
  histograms:
    - name: write_size_bytes
      help: Sizes of write(2) calls by process
      bucket_type: exp2
      bucket_min: 0
      bucket_max: 20
      bucket_multiplier: 1
      labels:
        - name: pid
          size: 4
          decoders:
            - name: uint
        - name: bucket
          size: 4
          decoders:
            - name: uint
`;
