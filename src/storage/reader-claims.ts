/**
 * Reader claims: how a process tells every other process sharing the store that it is reading a
 * completed entry (linking or copying it to an output), so that their GC, `cache clean` and
 * `cache verify` leave it alone. A claim is an empty file `<root>/.claims/<taskId>~<peerId>~<host>~<pid>~<rand>`
 * (one flat directory: a claim costs a create and an unlink, and only readers at work are listed);
 * this process keeps the mtimes of its claims fresh while it holds them. A claim is live while its
 * mtime is younger than the stale time and, on this host, its process is alive: a killed reader's
 * claim stops counting at once here, and after the stale time on other hosts.
 *
 * In-process readers share one claim per entry (a count); the in-process table (`Entry.pins`) keeps
 * this process's own GC away, the claim file everyone else's.
 *
 * @module
 */
import { randomBytes } from 'node:crypto';
import { promises as fsp } from 'node:fs';
import path from 'node:path';
import { errno, unlinkQuiet } from './fs-util.js';
import { heartbeatFor, pidAlive, pidScope } from './task-lock.js';

/** Separates the parts of a claim's name (no peer id, host name or number holds it). */
const SEP = '~';

/** Writes a claim file; the claims directory is made again if someone removed it. */
async function createClaimFile(file: string): Promise<void> {
  try {
    await fsp.writeFile(file, '', { flag: 'wx' });
  } catch (e) {
    if (errno(e) !== 'ENOENT') throw e;
    await fsp.mkdir(path.dirname(file), { recursive: true });
    await fsp.writeFile(file, '', { flag: 'wx' });
  }
}

/** A held claim; `release` is idempotent. */
export interface ReaderClaim {
  release(): Promise<void>;
}

interface Held {
  file: string;
  count: number;
  /** Settles once the file exists (or failed to). */
  ready: Promise<void>;
}

/** The claims of one store, as this process makes and reads them. */
export class ReaderClaims {
  readonly #dir: string;
  readonly #staleMs: number;
  readonly #held = new Map<string, Held>();
  #timer: NodeJS.Timeout | undefined;

  /**
   * @param dir the store's claims directory (`StoreLayout.claimsDir`)
   * @param staleMs after this long without a touch a claim no longer counts (the store's `lockStaleTime`)
   */
  constructor(dir: string, staleMs: number) {
    this.#dir = dir;
    this.#staleMs = staleMs;
  }

  /**
   * Claims entry `taskId/peerId` for this process. The caller checks afterwards that the entry is
   * still there: a remover that listed claims before this one was made may have deleted it.
   *
   * @throws the filesystem's error when the claim cannot be written.
   */
  async claim(taskId: string, peerId: string): Promise<ReaderClaim> {
    const key = `${taskId}/${peerId}`;
    let h = this.#held.get(key);
    if (h) h.count++;
    else {
      const file = path.join(
        this.#dir,
        [taskId, peerId, pidScope(), process.pid, randomBytes(4).toString('hex')].join(SEP),
      );
      const ready = createClaimFile(file);
      h = { file, count: 1, ready };
      this.#held.set(key, h);
      this.#startTouching();
    }
    const held = h;
    try {
      await held.ready;
    } catch (e) {
      await this.#drop(key, held);
      throw e;
    }
    let released = false;
    return {
      release: async () => {
        if (released) return;
        released = true;
        await this.#drop(key, held);
      },
    };
  }

  async #drop(key: string, h: Held): Promise<void> {
    if (--h.count > 0) return;
    if (this.#held.get(key) === h) this.#held.delete(key);
    if (!this.#held.size) this.#stopTouching();
    await h.ready.catch(() => {});
    await unlinkQuiet(h.file).catch(() => {});
  }

  /**
   * Whether any process holds a live claim on `taskId/peerId`. Dead claims met on the way are
   * removed. An unreadable claims directory counts as claimed: never delete on a guess.
   */
  async claimed(taskId: string, peerId: string): Promise<boolean> {
    let names: string[];
    try {
      names = await fsp.readdir(this.#dir);
    } catch (e) {
      return errno(e) !== 'ENOENT';
    }
    const now = Date.now();
    let live = false;
    for (const n of names) {
      const [task, peer, host, pid] = n.split(SEP);
      if (task !== taskId || peer !== peerId) continue;
      const file = path.join(this.#dir, n);
      const st = await fsp.stat(file).catch(() => undefined);
      if (!st) continue;
      const fresh = now - st.mtimeMs < this.#staleMs;
      // The pid is checked only where it means what ours do (this host and pid namespace); a claim
      // of another container with this hostname, or of an older version, lives by its heartbeat.
      const alive = host !== pidScope() || pidAlive(Number(pid));
      if (fresh && alive) live = true;
      else await unlinkQuiet(file).catch(() => {});
    }
    return live;
  }

  /**
   * Removes claims silent for twice the stale time: a holder touches its claim every third of it,
   * and a claim on an entry removed by hand is never asked about by {@link claimed} again. Returns
   * how many went.
   */
  async sweepSilent(): Promise<number> {
    const now = Date.now();
    let removed = 0;
    for (const n of await fsp.readdir(this.#dir).catch(() => [] as string[])) {
      const file = path.join(this.#dir, n);
      const st = await fsp.lstat(file).catch(() => undefined);
      if (!st?.isFile() || now - st.mtimeMs <= 2 * this.#staleMs) continue;
      await unlinkQuiet(file).catch(() => {});
      removed++;
    }
    return removed;
  }

  #startTouching(): void {
    if (this.#timer) return;
    // A long copy to another filesystem keeps its claim alive for the other hosts of a shared store.
    this.#timer = setInterval(() => {
      const now = new Date();
      for (const h of this.#held.values()) void h.ready.then(() => fsp.utimes(h.file, now, now)).catch(() => {});
    }, heartbeatFor(this.#staleMs));
    this.#timer.unref();
  }

  #stopTouching(): void {
    clearInterval(this.#timer);
    this.#timer = undefined;
  }

  /** Releases every claim this process holds (the store is closing). */
  async releaseAll(): Promise<void> {
    const all = [...this.#held.entries()];
    for (const [key, h] of all) {
      h.count = 1;
      await this.#drop(key, h);
    }
  }
}
