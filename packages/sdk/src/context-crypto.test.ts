import assert from "node:assert/strict";
import { test } from "node:test";
import { generatePrivateKey } from "viem/accounts";
import { CONTEXT_PAD_BYTES, decryptContext, deriveContextKey, encryptContext, padContext } from "./context-crypto.ts";

const owner = "0x00000000000000000000000000000000000000aa";

test("the key is a deterministic function of the private key only", () => {
  const pk = generatePrivateKey();
  assert.deepEqual(deriveContextKey({ privateKey: pk }), deriveContextKey({ privateKey: pk }));
  assert.notDeepEqual(deriveContextKey({ privateKey: pk }), deriveContextKey({ privateKey: generatePrivateKey() }));
  assert.equal(deriveContextKey({ privateKey: pk }).length, 32);
});

test("sizes leak only whole KiB: 1 byte and 1000 bytes make blobs of the same size", () => {
  const key = deriveContextKey({ privateKey: generatePrivateKey() });
  const a = encryptContext({ key, owner, version: 1, plaintext: "x" });
  const b = encryptContext({ key, owner, version: 1, plaintext: "y".repeat(1000) });
  const c = encryptContext({ key, owner, version: 1, plaintext: "z".repeat(1021) });
  assert.equal(a.length, b.length);
  assert.equal(c.length, a.length + CONTEXT_PAD_BYTES);
  assert.equal(padContext(new Uint8Array(1020)).length, 1024);
  // a fresh nonce each time: the same plaintext never makes the same blob
  assert.notDeepEqual(a, encryptContext({ key, owner, version: 1, plaintext: "x" }));
});

test("another key, another version or owner, or one altered byte: context_decrypt_failed", () => {
  const key = deriveContextKey({ privateKey: generatePrivateKey() });
  const blob = encryptContext({ key, owner, version: 3, plaintext: '{"secret":1}' });
  assert.equal(decryptContext({ key, owner, version: 3, blob }), '{"secret":1}');
  const other = deriveContextKey({ privateKey: generatePrivateKey() });
  assert.throws(() => decryptContext({ key: other, owner, version: 3, blob }), { code: "context_decrypt_failed" });
  assert.throws(() => decryptContext({ key, owner, version: 2, blob }), { code: "context_decrypt_failed" });
  assert.throws(() => decryptContext({ key, owner: `0x${"bb".repeat(20)}`, version: 3, blob }), {
    code: "context_decrypt_failed",
  });
  for (const i of [0, 5, 20, blob.length - 1]) {
    const altered = blob.slice();
    altered[i] = (altered[i] ?? 0) ^ 0x01;
    assert.throws(() => decryptContext({ key, owner, version: 3, blob: altered }), { code: "context_decrypt_failed" });
  }
});
