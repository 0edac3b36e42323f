/**
 * Hostile scenarios, `dfget.yaml`: files that attack the config loader (an alias bomb, 20 MiB).
 * Their repositories serve a good artifact, so accepting the file makes the pull succeed.
 *
 * @module
 */
import { code, type Def } from './scenario.js';

/** The `dfget.yaml` scenarios (area `config`). */
export function configScenarios(): Def[] {
  return [
    {
      name: 'config-alias-bomb',
      area: 'config',
      description:
        'a ~500-byte dfget.yaml with a 9-level alias bomb (9^9 elements) under an unknown key and under storage.dataPath',
      expectCode: code('CONFIG'),
      config: aliasBomb(),
    },
    {
      name: 'config-20mib',
      area: 'config',
      description: 'a 20 MiB dfget.yaml (valid YAML: a small storage block and 20 MiB of comments)',
      expectCode: code('CONFIG'),
      config: `storage:\n  multiplex: true\n${`# ${'x'.repeat(1021)}\n`.repeat(20 * 1024)}`,
    },
  ];
}

/** `a: &a [x × 9]`, `b: &b [*a × 9]`, … 9 levels, referenced by an unknown key and by `storage.dataPath`. */
function aliasBomb(): string {
  const names = 'abcdefghi';
  const lines = [`a: &a [${Array(9).fill('x').join(',')}]`];
  for (let i = 1; i < names.length; i++)
    lines.push(
      `${names[i]}: &${names[i]} [${Array(9)
        .fill(`*${names[i - 1]}`)
        .join(',')}]`,
    );
  lines.push('unknownBomb: *i', 'storage:', '  dataPath: *i', '');
  return lines.join('\n');
}
