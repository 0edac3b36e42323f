/**
 * The dfdaemon v2 messages orasfly sends and reads, encoded by hand (`protobuf.ts`).
 *
 * Field numbers and types are upstream's, from github.com/dragonflyoss/api (Apache-2.0):
 * `proto/common.proto` (package `common.v2`) at commit 02e717f89d3b5f25592a7338489bc6ad6ec8a6a1,
 * `proto/dfdaemon.proto` (package `dfdaemon.v2`) at commit 00480ebab4ff71afde1daaf86ac9c93d3be1c86a,
 * `proto/errordetails.proto` at commit 5934c78ace5352106cb462180fe2ed864064680c; and the standard
 * `grpc.health.v1` service. Only fields 1–20 of `common.v2.Download` are written: those have kept
 * their numbers across api releases, while later ones (`force_hard_link`,
 * `content_for_calculating_task_id`, `remote_ip`) were renumbered.
 *
 * @module
 */
import { asMapEntry, asNumber, asString, ProtoWriter, readFields, WIRE_LEN, WIRE_VARINT } from './protobuf.js';

/** `dfdaemon.v2.DfdaemonDownload/DownloadTask`: server-streaming. */
export const DOWNLOAD_TASK_PATH = '/dfdaemon.v2.DfdaemonDownload/DownloadTask';
/** `grpc.health.v1.Health/Check`. */
export const HEALTH_CHECK_PATH = '/grpc.health.v1.Health/Check';

/** `common.v2.Priority`. LEVEL0 has no special meaning; LEVEL6 is the highest. */
export type Priority = 0 | 1 | 2 | 3 | 4 | 5 | 6;

/** The `common.v2.Download` fields orasfly sets. */
export interface DownloadMessage {
  /** Field 1: the blob URL, `https://host/v2/<repo>/blobs/<digest>`. */
  url: string;
  /** Field 2: `sha256:<hex>`; the daemon verifies it too. */
  digest?: string | undefined;
  /** Field 5. */
  tag?: string | undefined;
  /** Field 6. */
  application?: string | undefined;
  /** Field 7. @defaultValue 0 (LEVEL0) */
  priority?: Priority | undefined;
  /** Field 8: query keys left out of the daemon's task id. */
  filteredQueryParams?: readonly string[] | undefined;
  /** Field 9: headers of the daemon's back-to-source request (`Authorization`). */
  requestHeader?: Readonly<Record<string, string>> | undefined;
  /** Field 10. */
  pieceLength?: number | undefined;
  /** Field 11: the daemon links (or copies) its cache file here. */
  outputPath?: string | undefined;
  /** Field 12, in ms (sent as `google.protobuf.Duration`). */
  timeoutMs?: number | undefined;
  /** Field 13. */
  disableBackToSource?: boolean | undefined;
  /** Field 20: piece bytes come back inline. */
  needPieceContent?: boolean | undefined;
}

/** `dfdaemon.v2.DownloadTaskRequest { common.v2.Download download = 1; }`. */
export function encodeDownloadTaskRequest(d: DownloadMessage): Buffer {
  const timeout =
    d.timeoutMs !== undefined && d.timeoutMs > 0
      ? new ProtoWriter().uint(1, Math.floor(d.timeoutMs / 1000)).uint(2, (d.timeoutMs % 1000) * 1e6)
      : undefined;
  const download = new ProtoWriter()
    .string(1, d.url, true)
    .string(2, d.digest)
    .uint(4, 0) // type: STANDARD
    .string(5, d.tag)
    .string(6, d.application)
    .uint(7, d.priority ?? 0)
    .strings(8, d.filteredQueryParams)
    .stringMap(9, d.requestHeader)
    .uint(10, d.pieceLength, d.pieceLength !== undefined)
    .string(11, d.outputPath)
    .message(12, timeout)
    .bool(13, d.disableBackToSource)
    .bool(20, d.needPieceContent);
  return new ProtoWriter().message(1, download).finish();
}

/** `common.v2.Piece`, as far as orasfly reads it. */
export interface PieceMessage {
  number: number;
  offset: number;
  length: number;
  /** The daemon's own digest of the piece (`crc32:…`, `blake3:…`); informative only. */
  digest: string;
  parentId?: string | undefined;
  /** Present with `need_piece_content`. */
  content?: Buffer | undefined;
  /** `common.v2.TrafficType`: 0 back-to-source, 1 remote peer, 2 local peer. */
  trafficType?: number | undefined;
}

/** One `dfdaemon.v2.DownloadTaskResponse`. */
export interface DownloadTaskResponse {
  hostId: string;
  taskId: string;
  peerId: string;
  /**
   * `download_task_started_response` (field 4). Its `pieces` (field 4) are not decoded: nothing
   * uses them (each piece arrives in its own finished message), and a hostile daemon could send
   * millions of empty entries in one message.
   */
  started?: { contentLength: number; isFinished: boolean; responseHeader: Record<string, string> } | undefined;
  /** `download_piece_finished_response` (field 5). */
  piece?: PieceMessage | undefined;
}

function decodePiece(buf: Buffer): PieceMessage {
  const p: PieceMessage = { number: 0, offset: 0, length: 0, digest: '' };
  for (const f of readFields(buf)) {
    if (f.field === 1 && f.wire === WIRE_VARINT) p.number = asNumber(f);
    else if (f.field === 2 && f.wire === WIRE_LEN) p.parentId = asString(f);
    else if (f.field === 3 && f.wire === WIRE_VARINT) p.offset = asNumber(f);
    else if (f.field === 4 && f.wire === WIRE_VARINT) p.length = asNumber(f);
    else if (f.field === 5 && f.wire === WIRE_LEN) p.digest = asString(f);
    else if (f.field === 6 && f.wire === WIRE_LEN) p.content = f.bytes;
    else if (f.field === 7 && f.wire === WIRE_VARINT) p.trafficType = asNumber(f);
  }
  return p;
}

/** Decodes a `DownloadTaskResponse`. Unknown fields are skipped. @throws ProtoDecodeError */
export function decodeDownloadTaskResponse(buf: Buffer): DownloadTaskResponse {
  const r: DownloadTaskResponse = { hostId: '', taskId: '', peerId: '' };
  for (const f of readFields(buf)) {
    if (f.field === 1 && f.wire === WIRE_LEN) r.hostId = asString(f);
    else if (f.field === 2 && f.wire === WIRE_LEN) r.taskId = asString(f);
    else if (f.field === 3 && f.wire === WIRE_LEN) r.peerId = asString(f);
    else if (f.field === 4 && f.wire === WIRE_LEN) {
      const s = { contentLength: 0, isFinished: false, responseHeader: {} as Record<string, string> };
      for (const g of readFields(f.bytes!)) {
        if (g.field === 1 && g.wire === WIRE_VARINT) s.contentLength = asNumber(g);
        else if (g.field === 3 && g.wire === WIRE_LEN) {
          const [k, v] = asMapEntry(g);
          s.responseHeader[k] = v;
        } else if (g.field === 5 && g.wire === WIRE_VARINT) s.isFinished = g.varint !== 0n;
      }
      r.started = s;
    } else if (f.field === 5 && f.wire === WIRE_LEN) {
      for (const g of readFields(f.bytes!)) if (g.field === 1 && g.wire === WIRE_LEN) r.piece = decodePiece(g.bytes!);
    }
  }
  return r;
}

/** `grpc.health.v1.HealthCheckRequest { string service = 1; }`. */
export function encodeHealthCheckRequest(service = ''): Buffer {
  return new ProtoWriter().string(1, service).finish();
}

/** `HealthCheckResponse.status`: 1 = SERVING. */
export function decodeHealthCheckStatus(buf: Buffer): number {
  for (const f of readFields(buf)) if (f.field === 1 && f.wire === WIRE_VARINT) return asNumber(f);
  return 0;
}

/** `errordetails.v2.Backend`: the origin's answer, as the daemon relays it. */
export interface BackendDetails {
  message?: string | undefined;
  header?: Record<string, string> | undefined;
  statusCode?: number | undefined;
}

/**
 * Reads the `errordetails.v2.Backend` a daemon puts in `grpc-status-details-bin` (as JSON, the way
 * the Rust dfdaemon serialises it). `undefined` for anything else: the details are untrusted bytes.
 */
export function parseBackendDetails(bytes: Buffer | undefined): BackendDetails | undefined {
  if (!bytes || bytes.length === 0 || bytes.length > 64 * 1024) return undefined;
  let v: unknown;
  try {
    v = JSON.parse(bytes.toString('utf8'));
  } catch {
    return undefined;
  }
  if (typeof v !== 'object' || v === null || Array.isArray(v)) return undefined;
  const o = v as Record<string, unknown>;
  const status = o['status_code'] ?? o['statusCode'];
  if (status !== undefined && !(Number.isInteger(status) && (status as number) >= 100 && (status as number) <= 599))
    return undefined;
  return {
    message: typeof o['message'] === 'string' ? o['message'].slice(0, 512) : undefined,
    header:
      typeof o['header'] === 'object' && o['header'] !== null
        ? (Object.fromEntries(Object.entries(o['header'] as object).filter(([, x]) => typeof x === 'string')) as Record<
            string,
            string
          >)
        : undefined,
    statusCode: status as number | undefined,
  };
}
