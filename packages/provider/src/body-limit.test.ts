import assert from "node:assert/strict";
import { request } from "node:http";
import { after, before, test } from "node:test";
import { type Listening, listen } from "@verity/chain";
import { Hono } from "hono";
import { bodyLimitByLength } from "./body-limit.ts";

let server: Listening;

before(async () => {
  const app = new Hono();
  app.post(
    "/echo",
    bodyLimitByLength({ maxSize: 100, onError: (c) => c.json({ error: "too_large" }, 413) }),
    async (c) => c.json({ length: (await c.req.text()).length }),
  );
  server = await listen({ fetch: app.fetch });
});
after(() => server.close());

/** POSTs `body` with a Content-Length, or chunked (no length) when `chunked`. */
function post(body: string, chunked: boolean): Promise<{ status: number; text: string }> {
  return new Promise((resolve, reject) => {
    const req = request(
      `${server.url}/echo`,
      {
        method: "POST",
        headers: chunked ? { "transfer-encoding": "chunked" } : { "content-length": Buffer.byteLength(body) },
      },
      (res) => {
        let text = "";
        res.on("data", (d) => {
          text += d;
        });
        res.on("end", () => resolve({ status: res.statusCode ?? 0, text }));
      },
    );
    req.on("error", (error: NodeJS.ErrnoException) => {
      if (error.code !== "EPIPE" && error.code !== "ECONNRESET") reject(error);
    });
    if (chunked) {
      // several chunks, so a limit that only looked at the first one would be wrong
      for (let i = 0; i < body.length; i += 30) req.write(body.slice(i, i + 30));
      req.end();
    } else req.end(body);
  });
}

test("a body within the limit is read whole, with a length or chunked", async () => {
  for (const chunked of [false, true]) {
    const { status, text } = await post("x".repeat(100), chunked);
    assert.equal(status, 200);
    assert.deepEqual(JSON.parse(text), { length: 100 });
  }
});

test("a body over the limit is refused, with a length or chunked", async () => {
  for (const chunked of [false, true]) {
    const { status, text } = await post("x".repeat(101), chunked);
    assert.equal(status, 413, `chunked: ${chunked}`);
    assert.deepEqual(JSON.parse(text), { error: "too_large" });
  }
});
