import { expect } from 'chai';
import { spawn, spawnSync } from 'node:child_process';
import { chownSync, existsSync, lstatSync, statSync, unlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomInt } from 'node:crypto';
import {
  exportMaps, loadBpfFile, receiveMaps, type BpfObject, type LoadError,
  mapOrder,
} from '../../loader/index.js';
import { freshPinRoot, removePinRoot } from '../support/bpffs.js';
import { fixturePath } from '../support/fixtures.js';
import { processFdCount, requireKernel, requireRoot, requireTool } from '../support/kernel.js';
import { waitUntil } from '../support/processes.js';
import { expectRejection } from '../support/rejections.js';

/**
 * A sender written from the documented layout alone (iproute2 include/bpf_scm.h):
 * u16 uds_ver, u16 num_ent, char obj_name[64], 4 bytes padding, u64 st_dev,
 * u64 st_ino, then struct bpf_elf_map (9 x u32) per fd, fds in SCM_RIGHTS.
 * It makes its own array maps with bpf(2) and prints their ids.
 */
const PYTHON_SENDER = String.raw`
import array, ctypes, os, platform, socket, struct, sys
path, variant = sys.argv[1], sys.argv[2]
libc = ctypes.CDLL(None, use_errno=True)
NR_BPF = {'x86_64': 321, 'aarch64': 280}[platform.machine()]
def map_create(max_entries):
    attr = ctypes.create_string_buffer(struct.pack('<5I', 2, 4, 8, max_entries, 0), 72)
    fd = libc.syscall(NR_BPF, 0, attr, 72)
    if fd < 0:
        raise OSError(ctypes.get_errno(), 'BPF_MAP_CREATE')
    return fd
def map_id(fd):
    for line in open('/proc/self/fdinfo/%d' % fd):
        if line.startswith('map_id:'):
            return int(line.split()[1])
count = 70 if variant == 'too-many-fds' else 2
fds = [map_create(3 + i) for i in range(count)]
ids = [3, 7] + list(range(100, 100 + count - 2))
version = 2 if variant == 'bad-version' else 1
header = struct.pack('<HH64s4xQQ', version, count, b'python-sender.o', 1234, 5678)
entries = b''.join(struct.pack('<9I', 2, 4, 8, 3 + i, 0, ids[i], 0, 0, 0xffffffff) for i in range(count))
payload = header + entries
sent = fds
if variant == 'extra-fd':
    sent = fds + [os.open('/dev/null', os.O_RDONLY)]
if variant == 'truncated':
    payload = header[:50]
if variant.startswith('uid='):
    os.setuid(int(variant[4:]))
print(' '.join(str(map_id(fd)) for fd in fds), flush=True)
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.sendmsg([payload], [(socket.SOL_SOCKET, socket.SCM_RIGHTS, array.array('i', sent))], 0, path)
`;

function socketPath(label: string): string {
  return join(tmpdir(), `bpf-load-${label}-${process.pid}-${randomInt(1e9)}.sock`);
}

/** Run the Python sender once the socket exists; resolves to the map ids it made. */
async function pythonSend(path: string, variant: string): Promise<number[]> {
  await waitUntil(`the receiver to bind ${path}`, () => existsSync(path), 2000, 10);
  const result = spawnSync('python3', ['-I', '-c', PYTHON_SENDER, path, variant], { encoding: 'utf8' });
  expect(result.status, result.stderr).to.equal(0);
  return result.stdout.trim().split(' ').map(Number);
}

describe('kernel: map fds over a Unix socket in tc\'s format', function () {
  this.timeout(20000);
  let root: string | undefined;
  let object: BpfObject | undefined;
  let path: string;
  before(function () {
    requireKernel(this);
    requireRoot(this);
  });
  beforeEach(async function () {
    root = freshPinRoot('tcshare');
    object = await loadBpfFile(fixturePath('tc_sections_kern.o'), { convention: 'tc', bpffs: root });
    path = socketPath('share');
  });
  afterEach(() => {
    object?.close();
    removePinRoot(root);
    if (existsSync(path)) unlinkSync(path);
  });

  it('exportMaps -> receiveMaps: every map with its bpf_elf_map entry, the object\'s name and file identity; the socket is 0600 and removed after', async () => {
    const pending = receiveMaps(path, { timeoutMs: 5000 });
    expect(lstatSync(path).isSocket()).to.equal(true);
    expect(lstatSync(path).mode & 0o777).to.equal(0o600);
    exportMaps(object!, path);
    using received = await pending;
    expect(existsSync(path)).to.equal(false);
    const file = statSync(fixturePath('tc_sections_kern.o'), { bigint: true });
    expect([received.objectName, received.dev, received.ino]).to.deep.equal([object!.file, file.dev, file.ino]);
    expect(received.maps.map((m) => m.map.id)).to.deep.equal(object!.maps.map((m) => m.id));
    expect(received.maps.map((m) => m.tcId)).to.deep.equal([0, 0, 0, 1, 0xabc, 7, 0]);
    expect(received.maps.map((m) => m.def)).to.deep.equal(mapOrder(object!.spec).map((m) => {
      const tc = m.source.kind === 'maps' ? m.source.raw.tc! : undefined;
      return {
        type: m.type, size_key: m.keySize, size_value: m.valueSize, max_elem: m.maxEntries, flags: m.flags,
        id: tc!.id, pinning: tc!.pinning, inner_id: tc!.innerId, inner_idx: tc!.innerIdx,
      };
    }));
    // the same maps: what one side writes the other reads
    object!.map('tc_tail_hits').update(Buffer.from([1, 0, 0, 0]), Buffer.from([42, 0, 0, 0, 0, 0, 0, 0]));
    expect(received.maps[2]!.map.lookup(Buffer.from([1, 0, 0, 0]))?.[0]).to.equal(42);
  });

  it('more than 64 maps go in several datagrams; default-convention maps carry their index as id', async () => {
    const many = await loadBpfFile(fixturePath('many_maps_kern.o'));
    try {
      const pending = receiveMaps(path, { timeoutMs: 5000 });
      exportMaps(many, path);
      using received = await pending;
      expect(received.maps).to.have.length(70);
      expect(received.maps.map((m) => m.tcId)).to.deep.equal(many.maps.map((_, i) => i));
      expect(received.maps.map((m) => m.map.id)).to.deep.equal(many.maps.map((m) => m.id));
      expect(received.maps[69]!.def.max_elem).to.equal(70);
    } finally {
      many.close();
    }
  });

  it('receives from a sender in another language that knows only the documented layout', async function () {
    requireTool(this, 'python3');
    const pending = receiveMaps(path, { timeoutMs: 5000 });
    const ids = await pythonSend(path, 'valid');
    using received = await pending;
    expect(received.objectName).to.equal('python-sender.o');
    expect([received.dev, received.ino]).to.deep.equal([1234n, 5678n]);
    expect(received.maps.map((m) => [m.tcId, m.map.id, m.map.maxEntries])).to.deep.equal([[3, ids[0], 3], [7, ids[1], 4]]);
    expect(received.maps[1]!.def).to.deep.equal({ type: 2, size_key: 4, size_value: 8, max_elem: 4, flags: 0, id: 7, pinning: 0, inner_id: 0, inner_idx: 0xffffffff });
  });

  describe('a malformed set is an error, and every fd received is closed', () => {
    const cases: [string, RegExp][] = [
      ['bad-version', /malformed map set message: uds_ver 2, expected 1/],
      ['extra-fd', /malformed map set message: 2 entries but 3 fds/],
      ['truncated', /malformed map set message: 50 bytes, shorter than the 88-byte header/],
      ['too-many-fds', /control data truncated \(MSG_CTRUNC/],
    ];
    for (const [variant, message] of cases) {
      it(variant, async function () {
        requireTool(this, 'python3');
        const fds = processFdCount();
        const pending = receiveMaps(path, { timeoutMs: 5000 });
        await pythonSend(path, variant);
        const error = await expectRejection(pending, 'receiving the maps');
        expect(error.message).to.match(message);
        expect(processFdCount()).to.equal(fds);
        expect(existsSync(path)).to.equal(false);
      });
    }
  });

  it('a sender of another uid is refused and its fds closed unread; allowUids lets it in', async function () {
    requireTool(this, 'python3');
    const fds = processFdCount();
    const refusals: string[] = [];
    // the socket's mode must let the other user send at all
    const pending = receiveMaps(path, { timeoutMs: 1500, mode: 0o666, onRefused: (m) => refusals.push(m) });
    await pythonSend(path, 'uid=65534');
    const error = await expectRejection(pending, 'receiving the maps');
    expect(error.message).to.match(/nothing arrived within 1500 ms; 1 datagram\(s\) from senders not allowed were refused/);
    expect((error as LoadError).code).to.equal('BPF_LOAD_TIMEOUT');
    expect(refusals.join('\n')).to.match(/refused a datagram from uid 65534 \(pid \d+\)/);
    expect(processFdCount()).to.equal(fds);

    const allowed = receiveMaps(path, { timeoutMs: 5000, mode: 0o666, allowUids: [65534] });
    const ids = await pythonSend(path, 'uid=65534');
    using received = await allowed;
    expect(received.maps.map((m) => m.map.id)).to.deep.equal(ids);
  });

  it('refuses a path that exists, replaces a stale socket only when told, and never a live one or a file', async () => {
    writeFileSync(path, 'not a socket');
    expect((await expectRejection(receiveMaps(path, { timeoutMs: 10 }), 'receiving the maps')).message).to.match(/exists/);
    expect((await expectRejection(receiveMaps(path, { timeoutMs: 10, replace: true }), 'receiving the maps')).message).to.match(/exists and is not a socket: not replacing it/);
    unlinkSync(path);
    // a stale socket: bound by a process that is gone
    spawnSync('python3', ['-c', 'import socket,sys; socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM).bind(sys.argv[1])', path]);
    expect(lstatSync(path).isSocket()).to.equal(true);
    const refusedStale = await expectRejection(receiveMaps(path, { timeoutMs: 10 }), 'receiving the maps');
    expect(refusedStale.hint).to.match(/replace: true/);
    const live = receiveMaps(path, { timeoutMs: 3000, replace: true });
    expect((await expectRejection(receiveMaps(path, { timeoutMs: 10, replace: true }), 'receiving the maps')).message).to.match(/another process receives on/);
    exportMaps(object!, path);
    (await live).close();
  });

  it('an aborted wait ends with an error and removes the socket file', async () => {
    const stop = new AbortController();
    const pending = receiveMaps(path, { signal: stop.signal });
    setTimeout(() => stop.abort(), 50);
    expect((await expectRejection(pending, 'receiving the maps')).message).to.match(/receive maps on '.*': aborted/);
    expect(existsSync(path)).to.equal(false);
  });

  it('bad arguments are BPF_LOAD_ARGUMENT errors naming them', async () => {
    for (const [options, message] of [
      [{ timeoutMs: -1 }, /options.timeoutMs must be a number of milliseconds >= 0, not -1/],
      [{ mode: 0o1777 }, /options.mode must be a file mode from 0 to 0o777/],
      [{ allowUids: [-5] }, /options.allowUids holds -5, not a uid/],
    ] as const) {
      const error = await expectRejection(receiveMaps(path, options), 'receiving the maps');
      expect(error.code).to.equal('BPF_LOAD_ARGUMENT');
      expect(error.message).to.match(message);
    }
    expect(existsSync(path)).to.equal(false);
  });

  it('exportMaps sends only to a socket of root or of its own user', async () => {
    const pending = receiveMaps(path, { timeoutMs: 1000 });
    chownSync(path, 65534, 65534);
    expect(() => exportMaps(object!, path)).to.throw(/the socket belongs to uid 65534, neither root nor this user/);
    await expectRejection(pending, 'receiving the maps');
    expect(() => exportMaps(object!, path)).to.throw(/start the receiver first/);
  });

  it('tc exec bpf import receives --export\'s maps: the fds CMD holds are our maps (/proc/PID/fdinfo map_id)', async function () {
    requireTool(this, 'tc');
    const script = 'env | grep "^BPF_" | sort; for f in /proc/$$/fd/*; do grep -h "^map_id:" /proc/$$/fdinfo/${f##*/} 2>/dev/null; done';
    const child = spawn('tc', ['exec', 'bpf', 'import', path, 'run', 'sh', '-c', script], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr.on('data', (d: Buffer) => (out += d.toString()));
    const exited = new Promise<number | null>((resolve) => child.on('exit', resolve));
    try {
      await waitUntil(`tc exec bpf import to bind ${path}`, () => existsSync(path), 2000, 10);
      exportMaps(object!, path);
      expect(await exited, out).to.equal(0);
    } finally {
      child.kill('SIGKILL');
    }
    expect(out).to.include('BPF_NUM_MAPS=7');
    expect(out).to.match(/^BPF_MAP2748=\d+$/m);
    expect(out).to.match(/^BPF_MAP1=\d+$/m);
    const ids = [...out.matchAll(/^map_id:\s*(\d+)$/gm)].map((m) => Number(m[1])).sort((a, b) => a - b);
    expect(ids).to.deep.equal(object!.maps.map((m) => m.id).sort((a, b) => a - b));
  });
});
