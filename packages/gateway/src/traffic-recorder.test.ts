import assert from "node:assert/strict";
import { test } from "node:test";
import { Hono } from "hono";
import { streamSSE } from "hono/streaming";
import { recordTraffic } from "./traffic-recorder.ts";
import { createTrafficSeries } from "./traffic-series.ts";

const usage = { prompt_tokens: 7, completion_tokens: 3 };
const gatewayPart = { gateway: { agentId: "4", charged: "1234" } };

function app() {
  const series = createTrafficSeries();
  const hono = new Hono();
  hono.use("/v1/chat/completions", recordTraffic({ series, route: "chat" }));
  hono.post("/v1/chat/completions", async (c) => {
    const body = (await c.req.json()) as { stream?: boolean; fail?: string };
    if (body.fail === "status") return c.json({ error: { code: "all_unhealthy", message: "x" } }, 503);
    if (!body.stream) return c.json({ model: "verity-tiny", choices: [], usage, verity: gatewayPart });
    return streamSSE(c, async (s) => {
      await s.writeSSE({ data: JSON.stringify({ model: "verity-tiny", choices: [{ delta: { content: "hi" } }] }) });
      if (body.fail === "stream") {
        await s.writeSSE({ data: JSON.stringify({ error: { code: "all_providers_failed", message: "x" } }) });
        return;
      }
      await s.writeSSE({ data: JSON.stringify({ model: "verity-tiny", choices: [], usage, verity: gatewayPart }) });
      await s.writeSSE({ data: "[DONE]" });
    });
  });
  return { hono, series };
}

const post = (hono: Hono, body: unknown) =>
  hono.request("/v1/chat/completions", { method: "POST", body: JSON.stringify(body) });

test("JSON and streamed answers are counted with their usage, agent and charge; bytes pass unchanged", async () => {
  const { hono, series } = app();
  const plain = await post(hono, {});
  assert.equal(((await plain.json()) as { usage: unknown }).usage !== undefined, true);
  const streamed = await post(hono, { stream: true });
  const text = await streamed.text();
  assert.match(text, /"content":"hi"/);
  assert.match(text, /data: \[DONE\]/);
  assert.deepEqual(series.totals().requests, 2);
  assert.deepEqual(series.agent("4"), { requests: 2, failed: 0, tokens: 20, ms: series.agent("4").ms });
  assert.deepEqual(series.model("verity-tiny"), { requests: 2, tokens: 20 });
  assert.equal(series.totals().charged, "2468");
});

test("an error status or an error chunk in a stream counts as failed, not served", async () => {
  const { hono, series } = app();
  assert.equal((await post(hono, { fail: "status" })).status, 503);
  await (await post(hono, { stream: true, fail: "stream" })).text();
  assert.deepEqual([series.totals().requests, series.totals().failed], [0, 2]);
  assert.equal((await hono.request("/v1/chat/completions")).status, 404, "other methods are not counted");
  assert.equal(series.totals().failed, 2);
});
