/**
 * Bounded renderings of untrusted values for error messages. A message must stay short whatever
 * the input: `JSON.stringify` of a YAML alias bomb expands shared nodes into gigabytes, and a
 * registry can send a 4 MiB string or a list of a thousand platforms.
 *
 * @module
 */

/** Longest rendering of one value. */
export const MAX_QUOTED_CHARS = 80;
/** Most items a list in a message shows before `… and N more`. */
export const MAX_LISTED_ITEMS = 8;

/**
 * A short, quoted rendering of any value: strings JSON-quoted and cut at `max` characters, numbers
 * and booleans as themselves, lists and mappings by their size only (never expanded).
 *
 * @example quote('x'.repeat(1000)) // '"xxxx…" (1000 characters)'
 */
export function quote(value: unknown, max = MAX_QUOTED_CHARS): string {
  if (typeof value === 'string') {
    if (value.length <= max) return JSON.stringify(value);
    return `${JSON.stringify(value.slice(0, max))}… (${value.length} characters)`;
  }
  if (typeof value === 'number' || typeof value === 'boolean' || typeof value === 'bigint') return String(value);
  if (value === null) return 'null';
  if (value === undefined) return 'nothing';
  if (Array.isArray(value)) return `a list of ${value.length} item${value.length === 1 ? '' : 's'}`;
  if (typeof value === 'object') {
    const n = Object.keys(value).length;
    return `a mapping of ${n} key${n === 1 ? '' : 's'}`;
  }
  return typeof value;
}

/** `s` cut to `max` characters (with `…`), control characters shown as `?`; unquoted. */
export function clip(s: string, max = MAX_QUOTED_CHARS): string {
  const t = s.replace(/[\x00-\x1f\x7f]/g, '?');
  return t.length <= max ? t : `${t.slice(0, max)}…`;
}

/**
 * Joins at most `max` items (each rendered by `render`), then says how many were left out.
 *
 * @example listBounded(['a', 'b', 'c'], 2) // 'a, b and 1 more'
 */
export function listBounded<T>(
  items: readonly T[],
  max = MAX_LISTED_ITEMS,
  render: (item: T) => string = (x) => String(x),
): string {
  const shown = items.slice(0, max).map(render);
  if (items.length <= max) return shown.join(', ');
  return `${shown.join(', ')} and ${items.length - max} more`;
}

/** Removes `user:pass@` from anything URL-shaped, so error messages never carry credentials. */
export function stripUserinfo(s: string): string {
  return s.replace(/^([a-z][a-z0-9+.-]*:\/\/)[^/@?#]*@/i, '$1');
}
