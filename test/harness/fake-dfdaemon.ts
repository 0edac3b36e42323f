// A protocol fake of Dragonfly's dfdaemon, for tests: the gRPC services DfdaemonDownload/DownloadTask
// and grpc.health.v1 on a unix socket in a temp dir, built from the public protos (subsets with
// upstream's field numbers in test/fixtures/proto/, encoded by protobufjs through
// @grpc/proto-loader, independently of orasfly's own codec). No Dragonfly binary can run here, so
// this is conformance against fixtures derived from the protos, not against a real daemon.
//
// Like a daemon going back to source, it fetches the blob from the URL it is given, with the
// request headers it is given, from the real harness registry; it then serves the bytes as a daemon
// does (output_path link or copy, or inline piece content). A script chooses the faults.
import { copyFile, link, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { createHash } from 'node:crypto';
import { crc32 } from 'node:zlib';
import os from 'node:os';
import path from 'node:path';
import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';
import type { DfdaemonExchange } from '../../src/transport/dfdaemon/recorder.js';
import { fixturePath } from './paths.js';

const PROTO_DIR = fixturePath('proto');

/** What the fake does with the next requests. Fields apply to every request unless said otherwise. */
export interface FakeDaemonScript {
  /** Health answer. @defaultValue 'serving' */
  health?: 'serving' | 'not-serving';
  /** Statuses returned by the next requests, one per request, before anything is served. */
  failFirst?: Array<{ code: grpc.status; message?: string; backend?: { status_code: number; message?: string } }>;
  /** Send this many pieces, then neither send nor end until cancelled. */
  stallAfterPieces?: number;
  /** Order of inline pieces. @defaultValue 'in-order' */
  order?: 'in-order' | 'reverse';
  /** Flip a byte of what is served (piece 0, or the output file). */
  corrupt?: boolean;
  /** How output_path is made: a link before the pieces, or a copy after the last one. @defaultValue 'hardlink' */
  outputPath?: 'hardlink' | 'copy' | { refuse: grpc.status };
  /** Claim this content length in the started response instead of the real one. */
  contentLength?: number;
  /**
   * Replay a trace recorded from a real daemon (`DfdaemonTransportOptions.recordTo`): its responses
   * in their order (piece bytes from the blob), then its status.
   */
  replay?: DfdaemonExchange;
}

/** One DownloadTask request as the fake decoded it (protobufjs, keepCase). */
export interface SeenDownload {
  url: string;
  digest?: string;
  tag?: string;
  application?: string;
  priority: number;
  type: number;
  request_header: Record<string, string>;
  piece_length?: number;
  output_path?: string;
  disable_back_to_source: boolean;
  need_piece_content: boolean;
  timeout?: { seconds: number; nanos: number };
}

/** A running fake daemon. */
export interface FakeDfdaemon {
  /** The unix socket it listens on. */
  readonly socketPath: string;
  /** The script in force (mutable between requests). */
  script: FakeDaemonScript;
  /** Every DownloadTask request received. */
  readonly downloads: SeenDownload[];
  /** Blob fetches the fake made from the registry (back-to-source). */
  readonly registryFetches: Array<{ url: string; status: number; authorization: boolean }>;
  /** Health checks answered. */
  healthChecks: number;
  /** Streams the client cancelled. */
  cancelled: number;
  /** Resolves once a DownloadTask stream has been cancelled by the client (for cancel tests). */
  waitCancelled(): Promise<void>;
  /** The fake's task file of a blob it holds (what it links or copies to an output path). */
  taskFile(digest: string): string | undefined;
  close(): Promise<void>;
}

function loadServices(): { download: grpc.ServiceDefinition; health: grpc.ServiceDefinition } {
  const def = protoLoader.loadSync(['dfdaemon.proto', 'health.proto'], {
    includeDirs: [PROTO_DIR],
    keepCase: true,
    longs: Number,
    enums: Number,
    defaults: false,
    oneofs: true,
  });
  const pkg = grpc.loadPackageDefinition(def) as unknown as {
    dfdaemon: { v2: { DfdaemonDownload: { service: grpc.ServiceDefinition } } };
    grpc: { health: { v1: { Health: { service: grpc.ServiceDefinition } } } };
  };
  return { download: pkg.dfdaemon.v2.DfdaemonDownload.service, health: pkg.grpc.health.v1.Health.service };
}

/** Starts the fake on a socket in its own temp dir. */
export async function startFakeDfdaemon(script: FakeDaemonScript = {}): Promise<FakeDfdaemon> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'orasfly-fake-dfdaemon-'));
  const socketPath = path.join(dir, 'dfdaemon.sock');
  const cacheDir = path.join(dir, 'cache');
  await rm(cacheDir, { recursive: true, force: true });
  await import('node:fs/promises').then((f) => f.mkdir(cacheDir));
  // Task files by task id (a hash of the URL, as the real daemon's), and by the blob's digest for tests.
  const cache = new Map<string, string>();
  const byDigest = new Map<string, string>();
  const services = loadServices();
  const server = new grpc.Server();
  const cancelWaiters: Array<() => void> = [];
  const state: FakeDfdaemon = {
    socketPath,
    script,
    downloads: [],
    registryFetches: [],
    healthChecks: 0,
    cancelled: 0,
    waitCancelled: () => new Promise((r) => cancelWaiters.push(r)),
    taskFile: (digest) => byDigest.get(digest),
    close: async () => {
      server.forceShutdown();
      await rm(dir, { recursive: true, force: true });
    },
  };

  server.addService(services.health, {
    Check: (_call: grpc.ServerUnaryCall<unknown, unknown>, cb: grpc.sendUnaryData<unknown>) => {
      state.healthChecks++;
      cb(null, { status: (state.script.health ?? 'serving') === 'serving' ? 1 : 2 });
    },
  });

  server.addService(services.download, {
    DownloadTask: (call: grpc.ServerWritableStream<{ download: SeenDownload }, unknown>) => {
      void serve(call).catch((e: Error) => {
        if (!call.cancelled) call.destroy(e);
      });
    },
  });

  async function serve(call: grpc.ServerWritableStream<{ download: SeenDownload }, unknown>): Promise<void> {
    const d = call.request.download;
    state.downloads.push(d);
    let cancelled = false;
    call.on('cancelled', () => {
      cancelled = true;
      state.cancelled++;
      for (const w of cancelWaiters.splice(0)) w();
    });
    const s = state.script;
    const failure = s.failFirst?.shift();
    if (failure) {
      const metadata = new grpc.Metadata();
      if (failure.backend) metadata.set('grpc-status-details-bin', Buffer.from(JSON.stringify(failure.backend)));
      call.emit('error', { code: failure.code, details: failure.message ?? 'scripted failure', metadata });
      return;
    }
    const taskId = createHash('sha256').update(d.url).digest('hex');
    const ids = { host_id: '127.0.0.1-fake', task_id: taskId, peer_id: `127.0.0.1-fake-${state.downloads.length}` };
    let file = cache.get(taskId);
    const cached = file !== undefined;
    if (!file) {
      if (d.disable_back_to_source) {
        call.emit('error', {
          code: grpc.status.INTERNAL,
          details: 'no peer has the task and back-to-source is disabled',
          metadata: new grpc.Metadata(),
        });
        return;
      }
      const res = await fetch(d.url, { headers: d.request_header ?? {} });
      state.registryFetches.push({
        url: d.url,
        status: res.status,
        authorization: Object.keys(d.request_header ?? {}).some((k) => k.toLowerCase() === 'authorization'),
      });
      if (res.status !== 200) {
        const metadata = new grpc.Metadata();
        metadata.set(
          'grpc-status-details-bin',
          Buffer.from(
            JSON.stringify({ message: `backend returned ${res.status}`, header: {}, status_code: res.status }),
          ),
        );
        await res.body?.cancel();
        call.emit('error', { code: grpc.status.INTERNAL, details: `backend error: ${res.status}`, metadata });
        return;
      }
      const bytes = Buffer.from(await res.arrayBuffer());
      const got = `sha256:${createHash('sha256').update(bytes).digest('hex')}`;
      file = path.join(cacheDir, taskId);
      await writeFile(file, bytes);
      cache.set(taskId, file);
      byDigest.set(got, file);
    }
    const bytes = await readFile(file);
    const served = Buffer.from(bytes);
    if (s.corrupt && served.length > 0) served[0] = served[0]! ^ 0xff;
    if (d.output_path) {
      const how = s.outputPath ?? 'hardlink';
      if (typeof how === 'object') {
        call.emit('error', {
          code: how.refuse,
          details: `cannot create ${d.output_path}: permission denied`,
          metadata: new grpc.Metadata(),
        });
        return;
      }
      // As the real daemon: a hard link is made before the pieces are reported; a copy (when the link
      // fails) only once the download is complete, after the last piece.
      if (s.corrupt) await writeFile(d.output_path, served);
      else if (how === 'hardlink') await link(file, d.output_path);
    }
    if (s.replay) {
      for (const r of s.replay.responses) {
        if (cancelled) return;
        const base = { host_id: r.hostId, task_id: r.taskId, peer_id: r.peerId };
        if (r.started)
          call.write({
            ...base,
            download_task_started_response: {
              content_length: r.started.contentLength,
              is_finished: r.started.isFinished,
              pieces: [],
              response_header: Object.fromEntries(r.started.responseHeaderNames.map((n) => [n, ''])),
            },
          });
        if (r.piece) {
          const p = r.piece;
          const piece: Record<string, unknown> = {
            number: p.number,
            offset: p.offset,
            length: p.length,
            digest: p.digest,
            traffic_type: p.trafficType ?? 0,
          };
          if (d.need_piece_content) piece['content'] = served.subarray(p.offset, p.offset + p.length);
          call.write({ ...base, download_piece_finished_response: { piece } });
        }
      }
      const st = s.replay.status;
      if (!st || st.code === 0) return void call.end();
      const metadata = new grpc.Metadata();
      if (st.backendStatusCode !== undefined)
        metadata.set('grpc-status-details-bin', Buffer.from(JSON.stringify({ status_code: st.backendStatusCode })));
      call.emit('error', { code: st.code, details: st.details ?? '', metadata });
      return;
    }
    const pieceLength = d.piece_length ?? 4 * 2 ** 20;
    const total = Math.ceil(bytes.length / pieceLength);
    call.write({
      ...ids,
      download_task_started_response: {
        content_length: s.contentLength ?? bytes.length,
        is_finished: cached,
        pieces: [],
        response_header: {},
      },
    });
    const order = [...Array(total).keys()];
    if (s.order === 'reverse') order.reverse();
    let sent = 0;
    for (const n of order) {
      if (cancelled) return;
      if (s.stallAfterPieces !== undefined && sent >= s.stallAfterPieces) {
        await new Promise<void>((r) => call.on('cancelled', () => r()));
        return;
      }
      const offset = n * pieceLength;
      const length = Math.min(pieceLength, bytes.length - offset);
      const piece: Record<string, unknown> = {
        number: n,
        offset,
        length,
        // As the Rust daemon: the crc32 of the piece it stored, in decimal (of the bytes it fetched,
        // not of what `corrupt` then serves).
        digest: `crc32:${crc32(bytes.subarray(offset, offset + length))}`,
        traffic_type: cached ? 2 : 0,
      };
      if (d.need_piece_content) piece['content'] = served.subarray(offset, offset + length);
      const ok = call.write({ ...ids, download_piece_finished_response: { piece } });
      sent++;
      if (!ok) await new Promise<void>((r) => call.once('drain', () => r()));
    }
    if (d.output_path && s.outputPath === 'copy' && !s.corrupt) await copyFile(file, d.output_path);
    call.end();
  }

  await new Promise<void>((resolve, reject) =>
    server.bindAsync(`unix:${socketPath}`, grpc.ServerCredentials.createInsecure(), (e) => (e ? reject(e) : resolve())),
  );
  return state;
}
