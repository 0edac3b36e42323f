/**
 * Platforms as people write them: `os/arch[/variant]` (docker, oras and Apptainer spell them so).
 *
 * @module
 */
import { InvalidArgumentError } from '../../errors.js';
import { quote } from '../../internal/describe.js';
import type { Platform } from './options.js';

/**
 * Parses `linux/amd64` or `linux/arm64/v8` (case-insensitive).
 *
 * @throws InvalidArgumentError naming `field`.
 */
export function parsePlatform(value: string, field: string): Platform {
  const m = /^([a-z0-9]+)\/([a-z0-9_]+)(?:\/([a-z0-9]+))?$/i.exec(String(value).trim());
  if (!m)
    throw new InvalidArgumentError(
      field,
      `${quote(value)} is not os/arch[/variant] (e.g. linux/amd64, linux/arm64/v8)`,
    );
  return {
    os: m[1]!.toLowerCase(),
    architecture: m[2]!.toLowerCase(),
    ...(m[3] ? { variant: m[3].toLowerCase() } : {}),
  };
}
