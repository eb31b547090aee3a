// Handlers' answers go to the engine together: each is written straight into one buffer, which
// crosses once (`respond`) in a microtask queued by the first answer, so the answers of every
// handler that finished in one turn cross in one call. Layout (src/http/answer.rs reads it), per
// answer, little-endian: id u32, status u16 (0: the route's), kind u8 (0 nothing, 1 a body, 2 an
// error), a spare byte, content-type length u16, header count u16, body length u32; then the
// content type, each header (name length u16, name, value length u32, value), the body.

import { HttpResponse } from './exceptions.js';

const HEAD = 16;
const JSON_TYPE = '';
const TEXT_TYPE = 'text/plain; charset=utf-8';
const BYTES_TYPE = 'application/octet-stream';

export class AnswerWriter {
  #buf = Buffer.allocUnsafe(64 * 1024);
  #len = 0;
  #queued = false;
  readonly #flush = (): void => {
    this.#queued = false;
    if (this.#len === 0) return;
    const len = this.#len;
    this.#len = 0;
    this.send(this.#buf, len);
    // One huge answer does not keep a huge buffer alive.
    if (this.#buf.length > 1 << 20) this.#buf = Buffer.allocUnsafe(64 * 1024);
  };

  constructor(private readonly send: (buf: Buffer, len: number) => void) {}

  #reserve(n: number): void {
    if (this.#len + n <= this.#buf.length) return;
    const b = Buffer.allocUnsafe(Math.max(this.#buf.length * 2, this.#len + n));
    this.#buf.copy(b, 0, 0, this.#len);
    this.#buf = b;
  }

  #queue(): void {
    if (!this.#queued) {
      this.#queued = true;
      queueMicrotask(this.#flush);
    }
  }

  /**
   * Queues `v` as request `id`'s answer: undefined is no body, a string text, a Buffer bytes, an
   * `HttpResponse` its own status and headers, anything else JSON. Throws, queuing nothing, when
   * `v` cannot be written as JSON.
   */
  value(id: number, v: unknown): void {
    if (v === undefined) return this.#write(id, 0, 0, '', undefined, undefined);
    if (v instanceof HttpResponse) return this.#response(id, v);
    if (typeof v === 'string') return this.#write(id, 0, 1, TEXT_TYPE, undefined, v);
    if (v instanceof Uint8Array) return this.#write(id, 0, 1, BYTES_TYPE, undefined, v);
    const json = JSON.stringify(v);
    // A function or a symbol: nothing JSON can carry.
    if (json === undefined) return this.#write(id, 0, 0, '', undefined, undefined);
    this.#write(id, 0, 1, JSON_TYPE, undefined, json);
  }

  #response(id: number, r: HttpResponse): void {
    const headers: [string, string][] = [];
    for (const [k, v] of Object.entries(r.headers ?? {})) {
      if (Array.isArray(v)) for (const one of v) headers.push([k, String(one)]);
      else headers.push([k, String(v)]);
    }
    const b = r.body;
    const status = r.status ?? 0;
    if (b === undefined) return this.#write(id, status, 0, r.contentType ?? '', headers, undefined);
    if (typeof b === 'string') return this.#write(id, status, 1, r.contentType ?? TEXT_TYPE, headers, b);
    if (b instanceof Uint8Array) return this.#write(id, status, 1, r.contentType ?? BYTES_TYPE, headers, b);
    const json = JSON.stringify(b);
    this.#write(id, status, json === undefined ? 0 : 1, r.contentType ?? JSON_TYPE, headers, json);
  }

  /** Queues an error answer: `status` 0 lets core map an engine `code`; `problem` is its JSON. */
  error(id: number, status: number, problem: object): void {
    this.#write(id, status, 2, '', undefined, JSON.stringify(problem));
  }

  #write(id: number, status: number, kind: number, ctype: string, headers: [string, string][] | undefined, body: string | Uint8Array | undefined): void {
    const bodyMax = body === undefined ? 0 : typeof body === 'string' ? body.length * 3 : body.length;
    let headerMax = 0;
    if (headers) for (const [k, v] of headers) headerMax += 6 + k.length * 3 + v.length * 3;
    this.#reserve(HEAD + ctype.length * 3 + headerMax + bodyMax);
    const b = this.#buf;
    const at = this.#len;
    let p = at + HEAD;
    const ctypeLen = ctype.length === 0 ? 0 : b.write(ctype, p, 'utf8');
    p += ctypeLen;
    if (headers) {
      for (const [k, v] of headers) {
        const n = b.write(k, p + 2, 'utf8');
        b.writeUInt16LE(n, p);
        p += 2 + n;
        const m = b.write(v, p + 4, 'utf8');
        b.writeUInt32LE(m, p);
        p += 4 + m;
      }
    }
    let bodyLen = 0;
    if (typeof body === 'string') bodyLen = body.length === 0 ? 0 : b.write(body, p, 'utf8');
    else if (body !== undefined) {
      b.set(body, p);
      bodyLen = body.length;
    }
    b.writeUInt32LE(id, at);
    b.writeUInt16LE(status, at + 4);
    b[at + 6] = kind;
    b[at + 7] = 0;
    b.writeUInt16LE(ctypeLen, at + 8);
    b.writeUInt16LE(headers?.length ?? 0, at + 10);
    b.writeUInt32LE(bodyLen, at + 12);
    this.#len = p + bodyLen;
    this.#queue();
  }
}
