/**
 * A custom {@link PieceTransport} passed as `transport`: it wraps the shipped {@link SourceTransport}
 * (ranged reads from the origin registry) and counts what it serves — the place to plug in a mirror,
 * a cache or a Dragonfly daemon. Whatever a transport delivers, the conductor checks each piece's
 * length and the whole blob's sha256 before anything reaches the output.
 *
 *   node .build/examples/custom-piece-transport.js oras://127.0.0.1:5000/lab/image:v1 [oras://mirror/…]
 *
 * With a second reference (a mirror holding the same blob), pieces are read from the mirror through
 * its own {@link OrasResourceClient}; the conductor falls back to the origin for anything the
 * transport cannot deliver.
 *
 * In your own code, import from the package: `import { SourceTransport, … } from 'orasfly';`
 */
import os from 'node:os';
import path from 'node:path';
import { mkdtemp, rm } from 'node:fs/promises';
import {
  createDownloader,
  OrasResourceClient,
  SourceTransport,
  type PieceInfo,
  type PieceTransport,
  type SignalOptions,
  type TransportTask,
  type BlobTarget,
} from '../src/index.js';

/** Reads pieces through `inner`, optionally from a mirror blob, counting pieces and bytes. */
class CountingTransport implements PieceTransport {
  readonly name = 'counting';
  pieces = 0;
  bytes = 0;
  readonly #inner: SourceTransport;
  readonly #mirror: BlobTarget | undefined;

  constructor(inner: SourceTransport, mirror?: BlobTarget) {
    this.#inner = inner;
    this.#mirror = mirror;
  }

  /** The task as the inner transport should see it: the mirror's copy when it holds the same blob. */
  #target(task: TransportTask): TransportTask {
    return this.#mirror && this.#mirror.digest === task.target.digest ? { ...task, target: this.#mirror } : task;
  }

  supportsRange(task: TransportTask, options: SignalOptions): Promise<boolean> {
    return this.#inner.supportsRange(this.#target(task), options);
  }

  async readPiece(task: TransportTask, piece: PieceInfo, options: SignalOptions): Promise<AsyncIterable<Uint8Array>> {
    const body = await this.#inner.readPiece(this.#target(task), piece, options);
    this.pieces++;
    const count = (n: number) => (this.bytes += n);
    return (async function* () {
      for await (const chunk of body) {
        count(chunk.length);
        yield chunk;
      }
    })();
  }

  readSequential(task: TransportTask, options: SignalOptions): Promise<AsyncIterable<Uint8Array>> {
    return this.#inner.readSequential(this.#target(task), options);
  }
}

const [ref, mirrorRef] = process.argv.slice(2);
if (!ref) {
  console.error('usage: custom-piece-transport <oras://host[:port]/repo:tag> [oras://mirror/repo:tag]');
  process.exit(2);
}
const work = await mkdtemp(path.join(os.tmpdir(), 'orasfly-transport-'));

// The transport's own registry client: the mirror's, or one for the origin. (The downloader's
// `dl.client` resolves references; the transport only reads blobs.)
const pieceClient = new OrasResourceClient();
const mirror = mirrorRef ? await pieceClient.resolve(mirrorRef) : undefined;
const transport = new CountingTransport(new SourceTransport(pieceClient), mirror);
const dl = await createDownloader({ storage: { dataPath: path.join(work, 'store') }, transport });
try {
  const result = await dl.download({ url: ref, output: path.join(work, 'image.sif') });
  if (mirror && mirror.digest !== result.digest)
    console.error('note: the mirror holds another blob, so pieces came from the origin');
  console.log(
    JSON.stringify({
      output: result.output,
      digest: result.digest,
      bytes: result.contentLength,
      transport: transport.name,
      pieces: transport.pieces,
      transportBytes: transport.bytes,
    }),
  );
} finally {
  await dl.close();
  await pieceClient.close();
  await rm(work, { recursive: true, force: true }); // this example's temp store and output
}
