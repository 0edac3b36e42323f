/**
 * The little of protobuf's wire format that the dfdaemon messages need: varints, length-delimited
 * fields (strings, bytes, messages, map entries) and packed-free repeated fields. A hand-written
 * codec for a dozen fields keeps protobufjs (and its code generation) out of the download path; the
 * test suite checks it against protobufjs-encoded messages built from the upstream `.proto` files.
 *
 * @module
 */

/** Wire types used here. */
export const WIRE_VARINT = 0;
export const WIRE_LEN = 2;

/** Builds one message. Field numbers and types are the caller's (see `messages.ts`). */
export class ProtoWriter {
  readonly #parts: Buffer[] = [];
  #size = 0;

  #push(b: Buffer): void {
    this.#parts.push(b);
    this.#size += b.length;
  }

  #tag(field: number, wire: number): void {
    this.#varint(BigInt(field * 8 + wire));
  }

  #varint(v: bigint): void {
    const out: number[] = [];
    let x = BigInt.asUintN(64, v);
    while (x >= 0x80n) {
      out.push(Number(x & 0x7fn) | 0x80);
      x >>= 7n;
    }
    out.push(Number(x));
    this.#push(Buffer.from(out));
  }

  /** A `uint32`/`uint64`/`int32`/`int64`/enum field; proto3 skips zero unless `always` (an `optional` field). */
  uint(field: number, value: number | bigint | undefined, always = false): this {
    if (value === undefined || (!always && BigInt(value) === 0n)) return this;
    this.#tag(field, WIRE_VARINT);
    this.#varint(BigInt(value));
    return this;
  }

  /** A `bool` field (skipped when false, as proto3 encodes it). */
  bool(field: number, value: boolean | undefined): this {
    if (!value) return this;
    this.#tag(field, WIRE_VARINT);
    this.#varint(1n);
    return this;
  }

  /** A `string` field; `undefined` is absent, `''` is written only when `always` (an `optional` field). */
  string(field: number, value: string | undefined, always = false): this {
    if (value === undefined || (value === '' && !always)) return this;
    return this.bytes(field, Buffer.from(value, 'utf8'), true);
  }

  /** A `bytes` (or embedded message) field. */
  bytes(field: number, value: Uint8Array | undefined, always = false): this {
    if (value === undefined || (value.length === 0 && !always)) return this;
    this.#tag(field, WIRE_LEN);
    this.#varint(BigInt(value.length));
    this.#push(Buffer.from(value.buffer, value.byteOffset, value.byteLength));
    return this;
  }

  /** An embedded message field. */
  message(field: number, m: ProtoWriter | undefined): this {
    return m === undefined ? this : this.bytes(field, m.finish(), true);
  }

  /** A `map<string, string>` field: one entry message (key = 1, value = 2) per pair. */
  stringMap(field: number, map: Readonly<Record<string, string>> | undefined): this {
    for (const [k, v] of Object.entries(map ?? {}))
      this.message(field, new ProtoWriter().string(1, k, true).string(2, v, true));
    return this;
  }

  /** A `repeated string` field. */
  strings(field: number, values: readonly string[] | undefined): this {
    for (const v of values ?? []) this.string(field, v, true);
    return this;
  }

  finish(): Buffer {
    return Buffer.concat(this.#parts, this.#size);
  }
}

/** One decoded field: its number, wire type and value (a bigint for varints, bytes otherwise). */
export interface ProtoField {
  readonly field: number;
  readonly wire: number;
  readonly varint?: bigint;
  readonly bytes?: Buffer;
}

/** Thrown for bytes that are not a well-formed message. */
export class ProtoDecodeError extends Error {}

/**
 * Splits a message into its fields, in wire order. Unknown fields come out too (callers skip
 * them), so a daemon newer than these numbers still decodes. Groups and fixed-width types, which
 * no field we read uses, are skipped by size.
 */
export function* readFields(buf: Buffer): Generator<ProtoField> {
  let pos = 0;
  const varint = (): bigint => {
    let result = 0n;
    let shift = 0n;
    for (;;) {
      if (pos >= buf.length) throw new ProtoDecodeError('truncated varint');
      const b = buf[pos++]!;
      result |= BigInt(b & 0x7f) << shift;
      if (b < 0x80) return result;
      shift += 7n;
      if (shift > 63n) throw new ProtoDecodeError('varint longer than 10 bytes');
    }
  };
  while (pos < buf.length) {
    const key = varint();
    const field = Number(key >> 3n);
    const wire = Number(key & 7n);
    if (field === 0) throw new ProtoDecodeError('field number 0');
    if (wire === WIRE_VARINT) yield { field, wire, varint: varint() };
    else if (wire === WIRE_LEN) {
      const len = Number(varint());
      if (pos + len > buf.length) throw new ProtoDecodeError(`field ${field} runs past the end`);
      yield { field, wire, bytes: buf.subarray(pos, pos + len) };
      pos += len;
    } else if (wire === 1) pos += 8;
    else if (wire === 5) pos += 4;
    else throw new ProtoDecodeError(`unsupported wire type ${wire}`);
    if (pos > buf.length) throw new ProtoDecodeError('truncated field');
  }
}

/** A varint field as a safe JS number (lengths and offsets of files fit in 2^53). */
export function asNumber(f: ProtoField): number {
  const v = f.varint ?? 0n;
  if (v > BigInt(Number.MAX_SAFE_INTEGER)) throw new ProtoDecodeError(`field ${f.field} is larger than 2^53`);
  return Number(v);
}

/** A length-delimited field as a UTF-8 string. */
export function asString(f: ProtoField): string {
  return (f.bytes ?? Buffer.alloc(0)).toString('utf8');
}

/** Decodes a `map<string, string>` entry. */
export function asMapEntry(f: ProtoField): [string, string] {
  let k = '';
  let v = '';
  for (const e of readFields(f.bytes ?? Buffer.alloc(0))) {
    if (e.field === 1 && e.wire === WIRE_LEN) k = asString(e);
    else if (e.field === 2 && e.wire === WIRE_LEN) v = asString(e);
  }
  return [k, v];
}
