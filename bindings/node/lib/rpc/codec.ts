// MessagePack for RPC values, the same rules as the engine's value tree (core/src/rpc/value.rs):
// null/undefined -> nil; booleans; integers as integers (BigInt beyond 2^53); other numbers as
// float64; strings; Uint8Array/Buffer as binary; arrays; Map and plain objects as maps (undefined
// properties skipped); Date as its ISO string. Decoding gives plain objects for maps whose keys are
// all strings (Map otherwise), numbers (BigInt for integers beyond 2^53) and Buffers for binary.
// Nesting deeper than 64 levels is refused both ways.

import { invalidArgument } from '../errors.js';

const MAX_DEPTH = 64;

export class Writer {
  buf = Buffer.allocUnsafe(256);
  len = 0;

  ensure(n: number): void {
    if (this.len + n <= this.buf.length) return;
    let size = this.buf.length * 2;
    while (size < this.len + n) size *= 2;
    const next = Buffer.allocUnsafe(size);
    this.buf.copy(next, 0, 0, this.len);
    this.buf = next;
  }

  u8(v: number): void {
    this.ensure(1);
    this.buf[this.len++] = v;
  }

  u16(v: number): void {
    this.ensure(2);
    this.buf.writeUInt16BE(v, this.len);
    this.len += 2;
  }

  u32(v: number): void {
    this.ensure(4);
    this.buf.writeUInt32BE(v, this.len);
    this.len += 4;
  }

  bytes(b: Uint8Array): void {
    this.ensure(b.length);
    this.buf.set(b, this.len);
    this.len += b.length;
  }
}

function header(w: Writer, n: number, fix: number, fixMax: number, m16: number, m32: number): void {
  if (n < fixMax) w.u8(fix | n);
  else if (n <= 0xffff) {
    w.u8(m16);
    w.u16(n);
  } else {
    w.u8(m32);
    w.u32(n);
  }
}

function writeInt(w: Writer, v: bigint): void {
  if (v >= 0n) {
    if (v < 128n) w.u8(Number(v));
    else if (v <= 0xffn) {
      w.u8(0xcc);
      w.u8(Number(v));
    } else if (v <= 0xffffn) {
      w.u8(0xcd);
      w.u16(Number(v));
    } else if (v <= 0xffffffffn) {
      w.u8(0xce);
      w.u32(Number(v));
    } else if (v <= 0xffffffffffffffffn) {
      w.u8(0xcf);
      w.ensure(8);
      w.buf.writeBigUInt64BE(v, w.len);
      w.len += 8;
    } else throw invalidArgument(`integer ${v} is too large to send over RPC (64 bits at most)`);
  } else if (v >= -32n) w.u8(Number(v) & 0xff);
  else if (v >= -9223372036854775808n) {
    w.u8(0xd3);
    w.ensure(8);
    w.buf.writeBigInt64BE(v, w.len);
    w.len += 8;
  } else throw invalidArgument(`integer ${v} is too small to send over RPC (64 bits at most)`);
}

/** A safe integer, without the BigInt round trip (most numbers sent are small integers). */
function writeNumberInt(w: Writer, v: number): void {
  if (v >= 0) {
    if (v < 128) return w.u8(v);
    if (v <= 0xff) {
      w.u8(0xcc);
      return w.u8(v);
    }
    if (v <= 0xffff) {
      w.u8(0xcd);
      return w.u16(v);
    }
    if (v <= 0xffffffff) {
      w.u8(0xce);
      return w.u32(v);
    }
  } else {
    if (v >= -32) return w.u8(v & 0xff);
    if (v >= -0x80000000) {
      w.u8(0xd2);
      w.ensure(4);
      w.buf.writeInt32BE(v, w.len);
      w.len += 4;
      return;
    }
  }
  writeInt(w, BigInt(v));
}

function write(w: Writer, v: unknown, depth: number): void {
  if (depth > MAX_DEPTH) throw invalidArgument(`value nested deeper than ${MAX_DEPTH} levels cannot be sent over RPC`);
  if (v === null || v === undefined) return w.u8(0xc0);
  switch (typeof v) {
    case 'boolean':
      return w.u8(v ? 0xc3 : 0xc2);
    case 'number':
      if (Number.isSafeInteger(v)) return writeNumberInt(w, v);
      w.u8(0xcb);
      w.ensure(8);
      w.buf.writeDoubleBE(v, w.len);
      w.len += 8;
      return;
    case 'bigint':
      return writeInt(w, v);
    case 'string': {
      const b = Buffer.from(v, 'utf8');
      if (b.length < 32) w.u8(0xa0 | b.length);
      else if (b.length <= 0xff) {
        w.u8(0xd9);
        w.u8(b.length);
      } else if (b.length <= 0xffff) {
        w.u8(0xda);
        w.u16(b.length);
      } else {
        w.u8(0xdb);
        w.u32(b.length);
      }
      return w.bytes(b);
    }
    case 'object': {
      if (v instanceof Uint8Array) {
        if (v.length <= 0xff) {
          w.u8(0xc4);
          w.u8(v.length);
        } else if (v.length <= 0xffff) {
          w.u8(0xc5);
          w.u16(v.length);
        } else {
          w.u8(0xc6);
          w.u32(v.length);
        }
        return w.bytes(v);
      }
      if (Array.isArray(v)) {
        header(w, v.length, 0x90, 16, 0xdc, 0xdd);
        for (const item of v) write(w, item, depth + 1);
        return;
      }
      if (v instanceof Date) return write(w, v.toISOString(), depth);
      if (v instanceof Map) {
        header(w, v.size, 0x80, 16, 0xde, 0xdf);
        for (const [k, val] of v) {
          write(w, k, depth + 1);
          write(w, val, depth + 1);
        }
        return;
      }
      const entries = Object.entries(v as Record<string, unknown>).filter(([, val]) => val !== undefined);
      header(w, entries.length, 0x80, 16, 0xde, 0xdf);
      for (const [k, val] of entries) {
        write(w, k, depth + 1);
        write(w, val, depth + 1);
      }
      return;
    }
    default:
      throw invalidArgument(`cannot send a ${typeof v} over RPC: use null, booleans, numbers, bigints, strings, Buffers, arrays, Maps or plain objects`);
  }
}

/**
 * Appends `head` bytes (left for the caller to fill) and then `v` to `w`; returns where the head
 * starts. If `v` cannot be encoded it throws and `w` is left as it was.
 */
export function appendRecord(w: Writer, head: number, v: unknown): number {
  const at = w.len;
  w.ensure(head);
  w.len += head;
  try {
    write(w, v, 0);
  } catch (e) {
    w.len = at;
    throw e;
  }
  return at;
}

/** Encodes a value as MessagePack (a Buffer, typed as Uint8Array so no Node types leak out). */
export function encode(v: unknown): Uint8Array {
  const w = new Writer();
  write(w, v, 0);
  return w.buf.subarray(0, w.len);
}

const scratch = new Writer();
let scratchBusy = false;

/**
 * `encode` into one buffer shared by every call: the bytes stay valid only until the next call, for
 * handing straight to the engine, which copies them (a call's arguments, an answer). Saves a buffer
 * per call. Reentrant use (a getter that calls while its object is encoded) gets its own buffer.
 */
export function encodeTransient(v: unknown): Uint8Array {
  if (scratchBusy) return encode(v);
  scratchBusy = true;
  try {
    scratch.len = 0;
    write(scratch, v, 0);
    const out = scratch.buf.subarray(0, scratch.len);
    // One huge value does not keep a huge buffer alive.
    if (scratch.buf.length > 1 << 20) scratch.buf = Buffer.allocUnsafe(4096);
    return out;
  } finally {
    scratchBusy = false;
  }
}

class Reader {
  constructor(
    readonly b: Buffer,
    public pos: number,
    readonly end: number,
  ) {}

  need(n: number): void {
    if (this.pos + n > this.end) throw invalidArgument('cannot decode the MessagePack value: truncated');
  }

  u8(): number {
    this.need(1);
    return this.b[this.pos++];
  }

  uint(n: number): number {
    this.need(n);
    const v = n === 1 ? this.b[this.pos] : n === 2 ? this.b.readUInt16BE(this.pos) : this.b.readUInt32BE(this.pos);
    this.pos += n;
    return v;
  }

  slice(n: number): Buffer {
    this.need(n);
    const s = this.b.subarray(this.pos, this.pos + n);
    this.pos += n;
    return s;
  }
}

function big(v: bigint): number | bigint {
  return v >= BigInt(Number.MIN_SAFE_INTEGER) && v <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(v) : v;
}

function read(r: Reader, depth: number): unknown {
  if (depth > MAX_DEPTH) throw invalidArgument(`cannot decode the MessagePack value: nested deeper than ${MAX_DEPTH} levels`);
  const m = r.u8();
  if (m <= 0x7f) return m;
  if (m >= 0xe0) return m - 0x100;
  if (m >= 0x80 && m <= 0x8f) return readMap(r, m & 0x0f, depth);
  if (m >= 0x90 && m <= 0x9f) return readArray(r, m & 0x0f, depth);
  if (m >= 0xa0 && m <= 0xbf) return r.slice(m & 0x1f).toString('utf8');
  switch (m) {
    case 0xc0:
      return null;
    case 0xc2:
      return false;
    case 0xc3:
      return true;
    case 0xc4:
    case 0xc5:
    case 0xc6:
      return Buffer.from(r.slice(r.uint(1 << (m - 0xc4))));
    case 0xc7:
    case 0xc8:
    case 0xc9: {
      const n = r.uint(1 << (m - 0xc7));
      r.u8();
      return Buffer.from(r.slice(n));
    }
    case 0xca: {
      r.need(4);
      const v = r.b.readFloatBE(r.pos);
      r.pos += 4;
      return v;
    }
    case 0xcb: {
      r.need(8);
      const v = r.b.readDoubleBE(r.pos);
      r.pos += 8;
      return v;
    }
    case 0xcc:
    case 0xcd:
    case 0xce:
      return r.uint(1 << (m - 0xcc));
    case 0xcf: {
      r.need(8);
      const v = r.b.readBigUInt64BE(r.pos);
      r.pos += 8;
      return big(v);
    }
    case 0xd0:
      return (r.u8() << 24) >> 24;
    case 0xd1: {
      r.need(2);
      const v = r.b.readInt16BE(r.pos);
      r.pos += 2;
      return v;
    }
    case 0xd2: {
      r.need(4);
      const v = r.b.readInt32BE(r.pos);
      r.pos += 4;
      return v;
    }
    case 0xd3: {
      r.need(8);
      const v = r.b.readBigInt64BE(r.pos);
      r.pos += 8;
      return big(v);
    }
    case 0xd4:
    case 0xd5:
    case 0xd6:
    case 0xd7:
    case 0xd8: {
      r.u8();
      return Buffer.from(r.slice(1 << (m - 0xd4)));
    }
    case 0xd9:
    case 0xda:
    case 0xdb:
      return r.slice(r.uint(1 << (m - 0xd9))).toString('utf8');
    case 0xdc:
      return readArray(r, r.uint(2), depth);
    case 0xdd:
      return readArray(r, r.uint(4), depth);
    case 0xde:
      return readMap(r, r.uint(2), depth);
    case 0xdf:
      return readMap(r, r.uint(4), depth);
    default:
      throw invalidArgument(`cannot decode the MessagePack value: marker 0x${m.toString(16)}`);
  }
}

function readArray(r: Reader, n: number, depth: number): unknown[] {
  if (n > r.end - r.pos) throw invalidArgument('cannot decode the MessagePack value: truncated');
  const out = new Array<unknown>(n);
  for (let i = 0; i < n; i++) out[i] = read(r, depth + 1);
  return out;
}

function readMap(r: Reader, n: number, depth: number): Record<string, unknown> | Map<unknown, unknown> {
  if (2 * n > r.end - r.pos) throw invalidArgument('cannot decode the MessagePack value: truncated');
  const entries: [unknown, unknown][] = [];
  let allStrings = true;
  for (let i = 0; i < n; i++) {
    const k = read(r, depth + 1);
    const v = read(r, depth + 1);
    if (typeof k !== 'string') allStrings = false;
    entries.push([k, v]);
  }
  if (!allStrings) return new Map(entries);
  const o: Record<string, unknown> = {};
  for (const [k, v] of entries) {
    Object.defineProperty(o, k as string, { value: v, enumerable: true, writable: true, configurable: true });
  }
  return o;
}

/** Decodes one MessagePack value. */
export function decode(bytes: Uint8Array): unknown {
  const b = Buffer.isBuffer(bytes) ? bytes : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  return decodeAt(b, 0, b.length);
}

/** Decodes the one MessagePack value in `b[start, start + len)` (no view made for it). */
export function decodeAt(b: Buffer, start: number, len: number): unknown {
  const r = new Reader(b, start, start + len);
  const v = read(r, 0);
  if (r.pos !== r.end) throw invalidArgument('cannot decode the MessagePack value: bytes after the value');
  return v;
}
