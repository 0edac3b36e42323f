/**
 * Go-style durations (`30s`, `1m30s`, `1.5h`, `250ms`) and Kubernetes-style sizes (`50Gi`, `10MB`),
 * as dfget.yaml writes them. Numbers are accepted as milliseconds / bytes.
 *
 * @module
 */
import { InvalidArgumentError } from './errors.js';
import { quote } from './describe.js';

const DURATION_UNITS: Record<string, number> = {
  ns: 1e-6,
  us: 1e-3,
  µs: 1e-3,
  ms: 1,
  s: 1000,
  m: 60_000,
  h: 3_600_000,
};

/** A duration: milliseconds as a number, or a Go duration string such as `"1m30s"`. */
export type Duration = number | string;

/**
 * Parses a {@link Duration} to milliseconds.
 *
 * @param field - option name used in the error message.
 * @throws InvalidArgumentError (`ERR_ORASFLY_INVALID_ARGUMENT`) for negative or malformed values.
 * @example parseDuration('1m30s', 'timeout') // 90000
 */
export function parseDuration(value: Duration, field: string): number {
  if (typeof value === 'number') {
    if (!Number.isFinite(value) || value < 0)
      throw new InvalidArgumentError(field, `expected a non-negative number of ms, got ${value}`);
    return value;
  }
  if (typeof value !== 'string')
    throw new InvalidArgumentError(field, `expected a duration like "30s", got ${typeof value}`);
  const s = value.trim();
  if (s === '0') return 0;
  if (/^\d+(\.\d+)?$/.test(s)) return Number(s); // plain digits: ms
  const re = /(\d+(?:\.\d+)?)(ns|us|\u00b5s|ms|s|m|h)/gy;
  let total = 0;
  let pos = 0;
  let m: RegExpExecArray | null;
  while ((m = re.exec(s)) !== null) {
    total += Number(m[1]) * DURATION_UNITS[m[2]!]!;
    pos = re.lastIndex;
  }
  if (pos === 0 || pos !== s.length)
    throw new InvalidArgumentError(
      field,
      `malformed duration ${quote(value)} (use e.g. "30s", "1m30s" or a number of ms)`,
    );
  return total;
}

const SIZE_UNITS: Record<string, number> = {
  '': 1,
  b: 1,
  k: 1e3,
  kb: 1e3,
  m: 1e6,
  mb: 1e6,
  g: 1e9,
  gb: 1e9,
  t: 1e12,
  tb: 1e12,
  ki: 2 ** 10,
  kib: 2 ** 10,
  mi: 2 ** 20,
  mib: 2 ** 20,
  gi: 2 ** 30,
  gib: 2 ** 30,
  ti: 2 ** 40,
  tib: 2 ** 40,
};

/** A size: bytes as a number, or a string such as `"50Gi"`, `"512MiB"`, `"10MB"`. */
export type Size = number | string;

/**
 * Parses a {@link Size} to bytes.
 *
 * @throws InvalidArgumentError (`ERR_ORASFLY_INVALID_ARGUMENT`) for negative or malformed values.
 * @example parseSize('50Gi', 'storage.diskGCThreshold') // 53687091200
 */
export function parseSize(value: Size, field: string): number {
  if (typeof value === 'number') {
    if (!Number.isFinite(value) || value < 0)
      throw new InvalidArgumentError(field, `expected a non-negative number of bytes, got ${value}`);
    return Math.floor(value);
  }
  if (typeof value !== 'string')
    throw new InvalidArgumentError(field, `expected a size like "50Gi", got ${typeof value}`);
  const m = /^\s*(\d+(?:\.\d+)?)\s*([a-zA-Z]*)\s*$/.exec(value);
  const mult = m ? SIZE_UNITS[m[2]!.toLowerCase()] : undefined;
  if (!m || mult === undefined)
    throw new InvalidArgumentError(
      field,
      `malformed size ${quote(value)} (use e.g. "50Gi", "512Mi" or a number of bytes)`,
    );
  return Math.floor(Number(m[1]) * mult);
}

/** Formats bytes for humans: `1.5 GiB`. */
export function formatBytes(n: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let i = 0;
  let v = n;
  while (v >= 1024 && i < units.length - 1) {
    v /= 1024;
    i++;
  }
  return i === 0 ? `${n} B` : `${v.toFixed(1)} ${units[i]}`;
}
