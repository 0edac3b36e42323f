/**
 * Dragonfly-style JSON `core.log` lines, so `grep "peer task done" …/core.log` works as the
 * Dragonfly oras page tells users. Fields: `level`, `ts` (`YYYY-MM-DD HH:MM:SS.mmm`, local time as
 * zap prints it), `caller`, `msg`, and context fields such as `peer`, `task`, `component`.
 *
 * @module
 */
import { appendFileSync, mkdirSync } from 'node:fs';
import { appendFile, mkdir } from 'node:fs/promises';
import path from 'node:path';

/** Log levels, as zap names them. */
export type LogLevel = 'debug' | 'info' | 'warn' | 'error';

/** One JSON log line. */
export interface LogRecord {
  level: LogLevel;
  ts: string;
  caller: string;
  msg: string;
  [field: string]: unknown;
}

/** Where log records go. Host applications can pass their own to route lines into their logger. */
export interface CoreLogSink {
  write(record: LogRecord): void;
}

/** Formats a time like zap's console encoder: `2024-01-02 03:04:05.678`. */
export function formatLogTime(date: Date = new Date()): string {
  const p = (n: number, w = 2) => String(n).padStart(w, '0');
  const day = `${date.getFullYear()}-${p(date.getMonth() + 1)}-${p(date.getDate())}`;
  return `${day} ${p(date.getHours())}:${p(date.getMinutes())}:${p(date.getSeconds())}.${p(date.getMilliseconds(), 3)}`;
}

/**
 * Appends JSON lines to a file (created with its directory on first write). Writes are queued in
 * order and never block a download; `flush()` waits for them.
 */
export class FileLogSink implements CoreLogSink {
  readonly file: string;
  #queue: Promise<void> = Promise.resolve();
  #dirReady = false;
  /** Lines that could not be written (e.g. read-only log dir); logging never fails a download. */
  droppedLines = 0;
  /** Why the last dropped line could not be written (`EACCES: permission denied, open '…'`). */
  lastError: string | undefined;

  constructor(file: string) {
    this.file = file;
  }

  write(record: LogRecord): void {
    const line = `${JSON.stringify(record)}\n`;
    this.#queue = this.#queue.then(async () => {
      try {
        if (!this.#dirReady) {
          await mkdir(path.dirname(this.file), { recursive: true, mode: 0o700 });
          this.#dirReady = true;
        }
        await appendFile(this.file, line, { mode: 0o600 });
      } catch (e) {
        this.#dropped(e);
      }
    });
  }

  /** Waits until every line written so far is on disk (or dropped). */
  flush(): Promise<void> {
    return this.#queue;
  }

  /** Synchronous write, for the last line before a process exits. */
  writeSync(record: LogRecord): void {
    try {
      mkdirSync(path.dirname(this.file), { recursive: true, mode: 0o700 });
      appendFileSync(this.file, `${JSON.stringify(record)}\n`, { mode: 0o600 });
    } catch (e) {
      this.#dropped(e);
    }
  }

  #dropped(e: unknown): void {
    this.droppedLines++;
    this.lastError = (e as Error).message;
  }
}

/** Writes each record as a JSON line to a stream (dfget's `--console`). */
export class StreamLogSink implements CoreLogSink {
  constructor(private readonly stream: NodeJS.WritableStream = process.stderr) {}
  write(record: LogRecord): void {
    this.stream.write(`${JSON.stringify(record)}\n`);
  }
}

/** Sends every record to several sinks. */
export class TeeLogSink implements CoreLogSink {
  constructor(private readonly sinks: CoreLogSink[]) {}
  write(record: LogRecord): void {
    for (const s of this.sinks) s.write(record);
  }
}

/** A structured logger bound to context fields (`peer`, `task`, `component`). */
export class CoreLogger {
  constructor(
    private readonly sink: CoreLogSink | undefined,
    private readonly fields: Record<string, unknown> = {},
    private readonly caller = 'orasfly',
  ) {}

  /** A logger with more context fields. */
  with(fields: Record<string, unknown>, caller = this.caller): CoreLogger {
    return new CoreLogger(this.sink, { ...this.fields, ...fields }, caller);
  }

  log(level: LogLevel, msg: string, extra?: Record<string, unknown>): void {
    if (!this.sink) return;
    this.sink.write({ level, ts: formatLogTime(), caller: this.caller, msg, ...this.fields, ...extra });
  }
  info(msg: string, extra?: Record<string, unknown>): void {
    this.log('info', msg, extra);
  }
  warn(msg: string, extra?: Record<string, unknown>): void {
    this.log('warn', msg, extra);
  }
  error(msg: string, extra?: Record<string, unknown>): void {
    this.log('error', msg, extra);
  }
}
