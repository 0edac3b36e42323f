import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  formatReference,
  parseOrasReference,
  dragonflyResolvedUrl,
  type OrasReference,
} from '../../../../src/source/oras/reference.js';
import { InvalidReferenceError } from '../../../../src/core/errors.js';

const HEX = 'a'.repeat(64);
const D = `sha256:${HEX}`;

test('parses host:port, nested repositories, tags and digests', () => {
  const r = parseOrasReference('oras://127.0.0.1:5000/a/b/img:v1');
  assert.deepEqual(
    {
      registry: r.registry,
      apiHost: r.apiHost,
      repository: r.repository,
      tag: r.tag,
      digest: r.digest,
      reference: r.reference,
    },
    {
      registry: '127.0.0.1:5000',
      apiHost: '127.0.0.1:5000',
      repository: 'a/b/img',
      tag: 'v1',
      digest: undefined,
      reference: 'v1',
    },
  );
  const d = parseOrasReference(`oras://reg.example.com/img@${D}`);
  assert.equal(d.tag, undefined);
  assert.equal(d.digest, D);
  assert.equal(d.reference, D);
  const td = parseOrasReference(`oras://reg.example.com:443/x/img:1.0@${D}`);
  assert.equal(td.tag, '1.0');
  assert.equal(td.reference, D);
  assert.equal(parseOrasReference('oras://localhost:5000/img').tag, 'latest');
  assert.equal(parseOrasReference('oras://localhost:5000/img').reference, 'latest');
  assert.equal(parseOrasReference('ORAS://[::1]:5000/img:t').registry, '[::1]:5000');
  assert.equal(parseOrasReference(`oras://h/img@sha512:${'b'.repeat(128)}`).digest, `sha512:${'b'.repeat(128)}`);
});

test('docker.io maps to registry-1.docker.io and library/', () => {
  const r = parseOrasReference('oras://docker.io/alpine:3');
  assert.equal(r.apiHost, 'registry-1.docker.io');
  assert.equal(r.registry, 'docker.io');
  assert.equal(r.repository, 'library/alpine');
  assert.equal(parseOrasReference('oras://docker.io/org/img').repository, 'org/img');
});

test('the tag is split at the last colon of the path, never the port', () => {
  const r = parseOrasReference('oras://host:5000/repo');
  assert.equal(r.registry, 'host:5000');
  assert.equal(r.repository, 'repo');
  assert.equal(r.tag, 'latest');
});

test("Dragonfly's digest query is accepted and kept as the expected layer digest", () => {
  const r = parseOrasReference(`oras://h:1/r:t?digest=sha256%3A${HEX}`);
  assert.equal(r.layerDigest, D);
  assert.equal(r.reference, 't');
  assert.equal(dragonflyResolvedUrl({ ...r, layerDigest: undefined }, D), `oras://h:1/r:t?digest=sha256%3A${HEX}`);
});

const MALFORMED: [string, string][] = [
  ['', 'empty'],
  ['127.0.0.1:5000/a:b', 'no scheme'],
  ['https://127.0.0.1:5000/a:b', 'wrong scheme'],
  ['oras://', 'no host'],
  ['oras:///repo:tag', 'empty host'],
  ['oras://host', 'no repository'],
  ['oras://host/', 'empty repository'],
  ['oras://host:0/r:t', 'port 0'],
  ['oras://host:65536/r:t', 'port too large'],
  ['oras://host:abc/r:t', 'port not numeric'],
  ['oras://-host/r:t', 'label starts with dash'],
  ['oras://ho_st/r:t', 'underscore in host'],
  ['oras://256.1.1.1/r:t', 'bad IPv4'],
  ['oras://[::1/r:t', 'unterminated IPv6'],
  ['oras://[1::2::3]/r:t', 'two :: in IPv6'],
  ['oras://registry.1/r:t', 'numeric last label'],
  ['oras://user:pass@host/r:t', 'userinfo'],
  ['oras://host/Repo:t', 'uppercase repository'],
  ['oras://host/r/../x:t', 'dot-dot segment'],
  ['oras://host/./r:t', 'dot segment'],
  ['oras://host//r:t', 'empty segment'],
  ['oras://host/r/:t', 'trailing slash'],
  ['oras://host/r%2F..%2Fx:t', 'percent-encoded traversal'],
  ['oras://host/%2e%2e/r:t', 'percent-encoded dots'],
  ['oras://host/r\\x:t', 'backslash'],
  ['oras://host/r:-t', 'tag starts with dash'],
  ['oras://host/r:', 'empty tag'],
  [`oras://host/r:${'t'.repeat(129)}`, 'tag too long'],
  ['oras://host/r:t@sha256:abc', 'short digest'],
  [`oras://host/r@sha256:${'A'.repeat(64)}`, 'uppercase digest'],
  [`oras://host/r@md5:${'a'.repeat(32)}`, 'unknown algorithm'],
  [`oras://host/r@${D}x`, 'digest too long'],
  ['oras://host/r:t#frag', 'fragment'],
  ['oras://host/r:t?foo=bar', 'unknown query key'],
  ['oras://host/r:t?digest=sha256:zz', 'bad digest query'],
  [`oras://host/r:t?digest=${D}&digest=${D}`, 'duplicate digest query'],
  ['oras://host/r t:x', 'space'],
  ['oras://host/r\n:t', 'newline'],
  ['oras://host/r__-x:t', 'bad separator run'],
  ['oras://host/r.:t', 'trailing separator'],
  [`oras://host/${'a'.repeat(256)}:t`, 'repository too long'],
  [`oras://host/${'a/'.repeat(1100)}x`, 'reference too long'],
  ['oras://host/r:t:u', 'colon in tag'],
];

test(`${MALFORMED.length} malformed references throw InvalidReferenceError`, () => {
  assert.ok(MALFORMED.length >= 30);
  for (const [input, why] of MALFORMED) {
    assert.throws(
      () => parseOrasReference(input),
      (e: unknown) => e instanceof InvalidReferenceError && e.code === 'ERR_ORASFLY_INVALID_REFERENCE',
      `${why}: ${JSON.stringify(input)}`,
    );
  }
});

test('error messages never carry userinfo', () => {
  try {
    parseOrasReference('oras://alice:s3cret@host/r:t');
    assert.fail('should throw');
  } catch (e) {
    assert.ok(e instanceof InvalidReferenceError);
    assert.doesNotMatch(e.message, /s3cret/);
  }
});

// A tiny seeded PRNG (mulberry32) so property failures are reproducible.
function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
const pick = <T>(r: () => number, xs: readonly T[]): T => xs[Math.floor(r() * xs.length)]!;
const word = (r: () => number, alphabet: string, min: number, max: number): string => {
  const n = min + Math.floor(r() * (max - min + 1));
  let s = '';
  for (let i = 0; i < n; i++) s += alphabet[Math.floor(r() * alphabet.length)];
  return s;
};
const LOWER = 'abcdefghijklmnopqrstuvwxyz0123456789';

function randomRef(r: () => number): Pick<OrasReference, 'registry' | 'repository' | 'tag' | 'digest'> {
  const host = pick(r, [
    () => `${word(r, 'abcdefghij', 1, 8)}.${pick(r, ['io', 'com', 'example.org'])}`,
    () => `127.0.0.${Math.floor(r() * 255)}`,
    () => 'localhost',
    () => '[::1]',
  ])();
  const registry = r() < 0.5 ? `${host}:${1 + Math.floor(r() * 65535)}` : host;
  const components = 1 + Math.floor(r() * 4);
  const parts: string[] = [];
  for (let i = 0; i < components; i++) {
    let c = word(r, LOWER, 1, 6);
    if (r() < 0.3) c += pick(r, ['.', '_', '__', '-', '--']) + word(r, LOWER, 1, 4);
    parts.push(c);
  }
  const hasDigest = r() < 0.4;
  const hasTag = !hasDigest || r() < 0.5;
  const tag = hasTag ? word(r, 'ABCabc0123_', 1, 1) + word(r, 'abcXYZ019_.-', 0, 20) : undefined;
  const digest = hasDigest ? `sha256:${word(r, '0123456789abcdef', 64, 64)}` : undefined;
  return { registry, repository: parts.join('/'), tag, digest };
}

test('property: format → parse round-trips random valid references', () => {
  const r = rng(20260101);
  for (let i = 0; i < 500; i++) {
    const ref = randomRef(r);
    const s = formatReference(ref);
    const p = parseOrasReference(s);
    assert.equal(p.registry, ref.registry, s);
    assert.equal(p.repository, ref.repository, s);
    assert.equal(p.tag, ref.tag, s);
    assert.equal(p.digest, ref.digest, s);
    assert.equal(formatReference(p), s);
  }
});

test('property: mutations of valid references are rejected', () => {
  const r = rng(424242);
  const mutations: [string, (s: string, ref: ReturnType<typeof randomRef>) => string][] = [
    ['uppercase repository', (s, ref) => s.replace(`/${ref.repository}`, `/${ref.repository.toUpperCase()}X`)],
    ['dot-dot segment', (s, ref) => s.replace(`/${ref.repository}`, `/${ref.repository}/..`)],
    ['empty segment', (s, ref) => s.replace(`/${ref.repository}`, `/${ref.repository}/`)],
    ['percent escape', (s, ref) => s.replace(`/${ref.repository}`, `/${ref.repository}%2e`)],
    ['userinfo', (s) => s.replace('oras://', 'oras://u:p@')],
    ['backslash', (s, ref) => s.replace(`/${ref.repository}`, `/${ref.repository}\\x`)],
    ['truncated digest', (s, ref) => (ref.digest ? s.slice(0, -1) : `${s}@sha256:1234`)],
    ['fragment', (s) => `${s}#x`],
    ['bad query', (s) => `${s}?tag=x`],
    ['no repository', (s, ref) => `oras://${ref.registry}`],
    ['scheme', (s) => s.replace('oras://', 'http://')],
  ];
  for (let i = 0; i < 300; i++) {
    const ref = randomRef(r);
    const [name, mutate] = pick(r, mutations);
    const bad = mutate(formatReference(ref), ref);
    assert.throws(() => parseOrasReference(bad), InvalidReferenceError, `${name}: ${bad}`);
  }
});
