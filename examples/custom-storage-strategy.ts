/**
 * A custom {@link StorageStrategy} passed as `storage.strategy`: it wraps one of the shipped
 * strategies (simple by default, `--advance` for advance) and logs where each task's data file is
 * born and how the store's `data` entry refers to it.
 *
 *   node .build/examples/custom-storage-strategy.js oras://127.0.0.1:5000/lab/image:v1 [--advance]
 *
 * Contract (see `StorageStrategy`): `locate` only decides; the manager writes metadata naming the
 * location, then calls `create`, which makes the empty data file and the store entry
 * `<dataPath>/<taskID>/<peerID>/data`. Keep data files inside `dataPath` (or name them with
 * `.dfget.cache` like the advance strategy): the store only ever deletes files it can prove are its own.
 *
 * In your own code, import from the package: `import { SimpleStrategy, … } from 'orasfly';`
 */
import os from 'node:os';
import path from 'node:path';
import { mkdtemp, rm, stat } from 'node:fs/promises';
import {
  AdvanceStrategy,
  createDownloader,
  SimpleStrategy,
  type DataLocation,
  type SignalOptions,
  type StorageStrategy,
  type StoreLink,
  type StrategyContext,
} from '../src/index.js';

/** Delegates to another strategy and records every decision. */
class LoggingStrategy implements StorageStrategy {
  readonly name: string;
  readonly events: string[] = [];
  readonly #inner: StorageStrategy;

  constructor(inner: StorageStrategy) {
    this.#inner = inner;
    this.name = inner.name;
  }

  async locate(ctx: StrategyContext, opts?: SignalOptions): Promise<DataLocation> {
    const loc = await this.#inner.locate(ctx, opts);
    this.events.push(`locate ${ctx.taskId.slice(0, 12)}… → ${loc.dataFilePath} (${loc.storeStrategy})`);
    return loc;
  }

  async create(ctx: StrategyContext, loc: DataLocation, opts?: SignalOptions): Promise<StoreLink> {
    const link = await this.#inner.create(ctx, loc, opts);
    this.events.push(`create ${ctx.storeDataPath} is ${link === 'self' ? 'the data file' : `a ${link} to it`}`);
    return link;
  }
}

const ref = process.argv.slice(2).find((a) => !a.startsWith('--')) ?? process.env['ORASFLY_REF'];
if (!ref) {
  console.error('usage: custom-storage-strategy <oras://host[:port]/repo:tag> [--advance]');
  process.exit(2);
}
const work = await mkdtemp(path.join(os.tmpdir(), 'orasfly-strategy-'));
const strategy = new LoggingStrategy(process.argv.includes('--advance') ? new AdvanceStrategy() : new SimpleStrategy());

const dl = await createDownloader({ storage: { dataPath: path.join(work, 'store'), strategy, multiplex: true } });
try {
  const output = path.join(work, 'out', 'image.sif');
  const result = await dl.download({ url: ref, output });
  for (const e of strategy.events) console.error(e);
  const st = await stat(output);
  // simple, same filesystem: 2 links (store `data` + output); advance: 3 (hidden file + `data` + output).
  console.log(
    JSON.stringify({
      strategy: strategy.name,
      events: strategy.events.length,
      output,
      nlink: st.nlink,
      method: result.method,
      digest: result.digest,
    }),
  );
} finally {
  await dl.close();
  await rm(work, { recursive: true, force: true }); // this example's temp store and output
}
