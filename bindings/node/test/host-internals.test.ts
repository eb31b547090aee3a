// The addon leans on one host internal with no public API: libuv's poll handle, declared by hand
// (napi-rs has no libuv bindings). If a Node release changes it, connections fall back to being
// read by engine threads (slower, correct) and this test fails loudly.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { _native as native } from '@omnitron-dev/native';

test('the libuv declared by hand is the one this Node runs', () => {
  assert.match(native.hostLoopCheck(), /^libuv 1\.\d+\.\d+, UV_POLL \(8\) is 'poll'$/);
});
