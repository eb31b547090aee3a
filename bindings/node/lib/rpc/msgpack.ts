// MessagePack as RPC values travel (the rules are in codec.ts), for applications: `packMessage`
// and `unpackMessage`. Typed with Uint8Array only, so that no Node types reach an application's
// typings (the engine's internal writer and reader, in codec.ts, work on Buffers).

import { decode as decodeValue, encode as encodeValue } from './codec.js';

/** Encodes a value as MessagePack (null/undefined, booleans, numbers, bigints, strings, bytes, arrays, Maps, plain objects, Dates). */
export function encode(v: unknown): Uint8Array {
  return encodeValue(v);
}

/** Decodes one MessagePack value (integers beyond 2^53 as BigInt, binary as Buffer). */
export function decode(bytes: Uint8Array): unknown {
  return decodeValue(bytes);
}
