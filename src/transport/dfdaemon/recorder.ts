/**
 * An opt-in recorder of dfdaemon exchanges (`DfdaemonTransportOptions.recordTo`): the request
 * orasfly sent and every response and status the daemon answered, as JSON, so that users with a
 * real cluster can turn what their daemon does into fixtures for the protocol fake
 * (`test/harness/fake-dfdaemon.ts` replays them). Secrets and bytes stay out: header values and
 * piece contents are replaced by their names and by length and SHA-256.
 *
 * @module
 */
import { createHash } from 'node:crypto';
import { readFile, rename, writeFile } from 'node:fs/promises';
import type { DownloadMessage, DownloadTaskResponse } from './messages.js';

/** One recorded `DownloadTask` exchange. */
export interface DfdaemonExchange {
  /** ISO time the request was sent. */
  at: string;
  request: Omit<DownloadMessage, 'requestHeader'> & { requestHeaderNames: string[] };
  responses: Array<
    Omit<DownloadTaskResponse, 'piece' | 'started'> & {
      /** The started message, its origin response header by name only (values may be cookies or tokens). */
      started?: { contentLength: number; isFinished: boolean; responseHeaderNames: string[] };
      piece?: {
        number: number;
        offset: number;
        length: number;
        digest: string;
        trafficType?: number | undefined;
        contentBytes?: number;
        contentSha256?: string;
      };
    }
  >;
  /** How the stream ended: gRPC code 0 for OK. */
  status: { code: number; details?: string; backendStatusCode?: number | undefined } | undefined;
}

/** Collects one exchange, then appends it to the trace file. */
export class ExchangeRecorder {
  readonly #file: string;
  readonly #x: DfdaemonExchange;

  constructor(file: string, request: DownloadMessage) {
    this.#file = file;
    const { requestHeader, ...rest } = request;
    this.#x = {
      at: new Date().toISOString(),
      request: { ...rest, requestHeaderNames: Object.keys(requestHeader ?? {}) },
      responses: [],
      status: undefined,
    };
  }

  response(m: DownloadTaskResponse): void {
    const { piece, started, ...rest } = m;
    const out: DfdaemonExchange['responses'][number] = { ...rest };
    if (started) {
      const { responseHeader, ...s } = started;
      out.started = { ...s, responseHeaderNames: Object.keys(responseHeader) };
    }
    if (piece) {
      const { content, parentId: _parentId, ...p } = piece;
      out.piece = content
        ? { ...p, contentBytes: content.length, contentSha256: createHash('sha256').update(content).digest('hex') }
        : p;
    }
    this.#x.responses.push(out);
  }

  /** Records the end and appends the exchange to the file (a JSON array), replacing it atomically. */
  async end(status: DfdaemonExchange['status']): Promise<void> {
    this.#x.status = status;
    let all: DfdaemonExchange[] = [];
    try {
      const parsed: unknown = JSON.parse(await readFile(this.#file, 'utf8'));
      if (Array.isArray(parsed)) all = parsed as DfdaemonExchange[];
    } catch {
      /* a new trace */
    }
    all.push(this.#x);
    const tmp = `${this.#file}.${process.pid}.tmp`;
    await writeFile(tmp, `${JSON.stringify(all, null, 2)}\n`, { mode: 0o600 });
    await rename(tmp, this.#file);
  }
}
