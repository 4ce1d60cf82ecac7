import assert from "node:assert/strict";
import { test } from "node:test";
import { href, parseRoute } from "./router.ts";

test("hash routes parse to pages; anything else is a missing page", () => {
  const hash = `0x${"Ab".repeat(32)}`;
  assert.deepEqual(parseRoute(""), { page: "overview" });
  assert.deepEqual(parseRoute("#/"), { page: "overview" });
  assert.deepEqual(parseRoute(href.providers), { page: "providers" });
  assert.deepEqual(parseRoute(href.provider("42")), { page: "provider", agentId: "42" });
  assert.deepEqual(parseRoute("#/providers/42/"), { page: "provider", agentId: "42" });
  assert.deepEqual(parseRoute(href.models), { page: "models" });
  assert.deepEqual(parseRoute(href.activity), { page: "activity" });
  assert.deepEqual(parseRoute(href.disputes), { page: "disputes" });
  assert.deepEqual(parseRoute(href.oracle()), { page: "oracle" });
  assert.deepEqual(parseRoute(href.oracle("7")), { page: "oracle", before: "7" });
  assert.deepEqual(parseRoute(href.tx(hash)), { page: "tx", hash: hash.toLowerCase() });
  for (const bad of ["#/providers/abc", "#/providers/1/2", "#/tx/0x12", "#/oracle/x", "#/nowhere"]) {
    assert.equal(parseRoute(bad).page, "missing", bad);
  }
});
