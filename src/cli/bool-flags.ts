/**
 * dfget's flag parser (pflag) takes a value on a boolean flag: `--console=true`,
 * `--plain-http=false`. Node's `parseArgs` refuses one. This takes those values out of argv before
 * parsing and says, per flag, what its last occurrence set — so `--plain-http=false` can switch off a
 * `true` that a config file set.
 *
 * @module
 */
import { InvalidArgumentError } from '../core/errors.js';

/** Go's `strconv.ParseBool`, which pflag uses. */
const TRUE = new Set(['1', 't', 'T', 'true', 'TRUE', 'True']);
const FALSE = new Set(['0', 'f', 'F', 'false', 'FALSE', 'False']);

/**
 * `argv` without the `--flag=value` forms of `booleans` (long names), and the value of each boolean
 * flag's last occurrence, bare (`--flag`: true) or valued. Arguments after `--` are left alone.
 *
 * @throws InvalidArgumentError (`ERR_ORASFLY_INVALID_ARGUMENT`) for a value that is not a boolean.
 */
export function takeBooleanValues(
  argv: readonly string[],
  booleans: ReadonlySet<string>,
): { argv: string[]; last: Map<string, boolean> } {
  const out: string[] = [];
  const last = new Map<string, boolean>();
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (a === '--') {
      out.push(...argv.slice(i));
      break;
    }
    const m = /^--([a-z][a-z0-9-]*)(?:=(.*))?$/s.exec(a);
    if (!m || !booleans.has(m[1]!)) {
      out.push(a);
      continue;
    }
    const [, name, value] = m;
    if (value === undefined) {
      last.set(name!, true);
      out.push(a);
    } else if (TRUE.has(value) || FALSE.has(value)) last.set(name!, TRUE.has(value));
    else
      throw new InvalidArgumentError(
        name!,
        `invalid argument ${JSON.stringify(value.slice(0, 40))} for --${name}: a boolean flag takes true or false`,
      );
  }
  return { argv: out, last };
}
