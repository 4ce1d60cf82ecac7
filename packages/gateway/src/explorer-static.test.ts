import assert from "node:assert/strict";
import { mkdirSync, mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { BaseError } from "@verity/core";
import { Hono } from "hono";
import { mountExplorerStatic } from "./explorer-static.ts";

function dist(): string {
  const dir = mkdtempSync(join(tmpdir(), "verity-explorer-dist-"));
  mkdirSync(join(dir, "assets"));
  writeFileSync(join(dir, "index.html"), "<!doctype html><title>Verity Explorer</title>");
  writeFileSync(join(dir, "assets", "index-abc.js"), "console.log(1)");
  writeFileSync(join(dir, "assets", "index-abc.css"), "body{}");
  writeFileSync(join(dir, "favicon.svg"), "<svg/>");
  writeFileSync(join(tmpdir(), "verity-secret.txt"), "outside");
  return dir;
}

function app(distDir: string) {
  const hono = new Hono();
  hono.get("/v1/models", (c) => c.json({ data: [] }));
  hono.get("/api/network", (c) => c.json({ ok: true }));
  mountExplorerStatic(hono, { distDir });
  hono.notFound((c) => c.json({ error: { code: "not_found" } }, 404));
  return hono;
}

test("the page, its assets and client-side routes are served with the right types and caching", async () => {
  const hono = app(dist());
  const home = await hono.request("/");
  assert.equal(home.status, 200);
  assert.equal(home.headers.get("content-type"), "text/html; charset=utf-8");
  assert.equal(home.headers.get("cache-control"), "no-cache");
  assert.match(await home.text(), /Verity Explorer/);
  const js = await hono.request("/assets/index-abc.js");
  assert.equal(js.headers.get("content-type"), "text/javascript; charset=utf-8");
  assert.match(js.headers.get("cache-control") ?? "", /immutable/);
  assert.equal(
    (await hono.request("/explorer/assets/index-abc.css")).headers.get("content-type"),
    "text/css; charset=utf-8",
  );
  assert.equal((await hono.request("/favicon.svg")).headers.get("content-type"), "image/svg+xml");
  for (const path of ["/explorer/", "/providers/7", "/explorer/models"]) {
    const page = await hono.request(path);
    assert.deepEqual([path, page.status, page.headers.get("content-type")], [path, 200, "text/html; charset=utf-8"]);
  }
  const redirect = await hono.request("/explorer");
  assert.deepEqual([redirect.status, redirect.headers.get("location")], [301, "/explorer/"]);
  assert.equal((await hono.request("/", { method: "HEAD" })).status, 200);
});

test("API paths, missing assets and paths outside the dist folder are never answered with the page", async () => {
  const hono = app(dist());
  assert.deepEqual(await (await hono.request("/v1/models")).json(), { data: [] });
  assert.deepEqual(await (await hono.request("/api/network")).json(), { ok: true });
  for (const path of ["/v1/nope", "/api/nope", "/api", "/health", "/metrics", "/assets/missing.js", "/nope.png"]) {
    const response = await hono.request(path);
    assert.deepEqual([path, response.status], [path, 404]);
    assert.match(response.headers.get("content-type") ?? "", /application\/json/);
  }
  for (const path of [
    "/../verity-secret.txt",
    "/%2e%2e/verity-secret.txt",
    "/assets/%2e%2e/%2e%2e/verity-secret.txt",
  ]) {
    const response = await hono.request(path);
    assert.doesNotMatch(await response.text(), /outside/, path);
  }
});

test("a dist folder without index.html is a configuration error with a hint", () => {
  const empty = mkdtempSync(join(tmpdir(), "verity-explorer-empty-"));
  assert.throws(
    () => mountExplorerStatic(new Hono(), { distDir: empty }),
    (error: unknown) =>
      error instanceof BaseError && error.code === "invalid_parameter" && /npm run build/.test(error.message),
  );
});
