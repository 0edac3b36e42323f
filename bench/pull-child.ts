/**
 * One pull in a fresh process, for the benchmark: `first` reports peak RSS as JSON; `reuse`
 * measures a whole process doing a reuse pull. argv: ref dataPath output mode
 */
import { createDownloader } from '../src/downloader.js';

const [ref, dataPath, output, mode] = process.argv.slice(2) as [string, string, string, string];
const t = performance.now();
const dl = await createDownloader({ storage: { dataPath, multiplex: true } });
const r = await dl.download({ url: ref, output });
await dl.close();
if (mode === 'reuse' && !r.reused) throw new Error('expected a reuse');
process.stdout.write(`${JSON.stringify({ maxRssKiB: process.resourceUsage().maxRSS, ms: performance.now() - t, reused: r.reused })}\n`);
