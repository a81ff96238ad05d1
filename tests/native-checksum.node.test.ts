/**
 * The Node runtime's native SHA-256 must give exactly record.ts's check_sum: records written
 * with it are compared (unchanged PUTs), replicated and checked against ones hashed by @noble/hashes
 * on Deno or in an older file.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import { checksum } from "../src/record.ts";
import { nodeRuntime } from "../src/runtime/node/runtime.ts";

const encoder = new TextEncoder();

test("nodeRuntime.sha256Hex() equals checksum() on empty, ASCII, multi-byte and large inputs", () => {
  const inputs = [new Uint8Array(0), encoder.encode("hello"), encoder.encode("größe ☃ 😀"), new Uint8Array(1024 * 1024 + 7).map((_, i) => i % 251)];
  for (const bytes of inputs) assert.equal(nodeRuntime.sha256Hex!(bytes), checksum(bytes));
  assert.equal(nodeRuntime.sha256Hex!(encoder.encode("abc")), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
});

test("nodeRuntime.sha256Hex() of a string hashes its UTF-8 bytes, a lone surrogate as TextEncoder writes it", () => {
  for (const text of ["", "hello", "größe ☃ 😀", "x\ud800y", "\udc00", "end\ud83d", "a".repeat(100_000)]) {
    assert.equal(nodeRuntime.sha256Hex!(text), checksum(encoder.encode(text)), JSON.stringify(text.slice(0, 20)));
    assert.equal(checksum(text), checksum(encoder.encode(text)));
  }
});

test("nodeRuntime.sha256Hex() hashes only a view's bytes, not its whole buffer", () => {
  const buffer = encoder.encode("xxabcyy");
  assert.equal(nodeRuntime.sha256Hex!(buffer.subarray(2, 5)), checksum(encoder.encode("abc")));
});
