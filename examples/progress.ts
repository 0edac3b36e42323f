/**
 * A downloader with a progress callback and the conductor's events (`piece`, `retry`, `state`, …).
 *
 *   node .build/examples/progress.js oras://127.0.0.1:5000/lab/image:v1
 *
 * Progress goes to stderr as text; stdout gets one JSON summary line.
 *
 * In your own code, import from the package: `import { createDownloader } from 'orasfly';`
 */
import os from 'node:os';
import path from 'node:path';
import { mkdtemp, rm } from 'node:fs/promises';
import { createDownloader, type PieceEvent, type RetryEvent } from '../src/index.js';

const mib = (n: number): string => `${(n / 2 ** 20).toFixed(1)} MiB`;

const ref = process.argv[2] ?? process.env['ORASFLY_REF'];
if (!ref) {
  console.error('usage: progress <oras://host[:port]/repo:tag>');
  process.exit(2);
}
const work = await mkdtemp(path.join(os.tmpdir(), 'orasfly-progress-'));

const dl = await createDownloader({
  storage: { dataPath: path.join(work, 'store') },
  // Piece tuning: 4 connections, fixed (unset, the count finds itself from the link, 1 to 8), each
  // piece retried up to 5 times.
  download: { concurrency: 4, pieceRetries: 5 },
  // dfget's core.log: JSON lines with "peer task done, cost: …ms".
  logFile: path.join(work, 'log', 'dfget', 'core.log'),
});

const pieces: PieceEvent[] = [];
const retries: RetryEvent[] = [];
const states: string[] = [];
// Called with every conductor (one per task actually downloaded; reuse and joins make none).
dl.manager.onConductor((c) => {
  console.error(`task ${c.taskId.slice(0, 12)}…: ${c.plan.totalPieces} pieces of ${mib(c.plan.pieceSize)}`);
  c.on('state', (s) => states.push(s));
  c.on('piece', (p) => pieces.push(p));
  c.on('retry', (r) => {
    retries.push(r);
    console.error(
      `piece ${r.num} attempt ${r.attempt} failed (${(r.error as Error).message}); retry in ${r.delayMs} ms`,
    );
  });
  c.on('failed', ({ error }) => console.error(`task failed: ${(error as Error).message}`));
});

let lastPercent = -1;
try {
  const result = await dl.download({
    url: ref,
    output: path.join(work, 'image.sif'),
    // Called at a bounded rate (every 100 ms at most) and once more at 100 %; never awaited.
    onProgress: (p) => {
      const percent = Math.floor(p.percent);
      if (percent === lastPercent) return;
      lastPercent = percent;
      console.error(`${percent.toString().padStart(3)} %  ${mib(p.transferred)} / ${mib(p.total)}`);
    },
  });
  console.log(
    JSON.stringify({
      output: result.output,
      digest: result.digest,
      bytes: result.contentLength,
      pieces: pieces.length,
      retries: retries.length,
      states,
      lastPercent,
      costMs: result.costMs,
    }),
  );
} finally {
  await dl.close();
  await rm(work, { recursive: true, force: true }); // this example's temp store and output
}
