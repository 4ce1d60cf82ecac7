import assert from "node:assert/strict";
import { mkdtempSync } from "node:fs";
import { createServer } from "node:http";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { generatePrivateKey } from "viem/accounts";
import { createFolderContextBackend } from "./context-backends.ts";
import { createContextClient } from "./context-client.ts";
import { createContextFetch, resolveContextReference, selectContext } from "./context-resolve.ts";
import type { UserContext } from "./context-schema.ts";

const ctx: UserContext = {
  preferences: { units: "metric" },
  facts: [
    { text: "has a dog named Rex", tags: ["pets"] },
    { text: "works night shifts", tags: ["work"] },
  ],
  summaries: [{ text: "first talk" }, { text: "second talk" }, { text: "third talk" }],
};

test("select keeps only the parts asked for", () => {
  assert.deepEqual(selectContext({ context: ctx }), ctx);
  assert.deepEqual(selectContext({ context: ctx, select: { facts: ["pets"], summaries: 1 } }), {
    preferences: {},
    facts: [{ text: "has a dog named Rex", tags: ["pets"] }],
    summaries: [{ text: "third talk" }],
  });
  assert.deepEqual(selectContext({ context: ctx, select: { preferences: true } }), {
    preferences: { units: "metric" },
    facts: [],
    summaries: [],
  });
});

test("the fetch wrapper sends the selected context as a system message, never the reference or the blob", async () => {
  const privateKey = generatePrivateKey();
  const client = createContextClient({
    privateKey,
    backend: createFolderContextBackend({ dir: mkdtempSync(join(tmpdir(), "verity-ctx-")) }),
  });
  await client.put(ctx);
  const bodies: string[] = [];
  const server = createServer((req, res) => {
    let body = "";
    req.on("data", (d) => {
      body += d;
    });
    req.on("end", () => {
      bodies.push(body);
      res.setHeader("content-type", "application/json");
      res.end("{}");
    });
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  const { port } = server.address() as { port: number };
  try {
    const contextFetch = createContextFetch({ context: client });
    await contextFetch(`http://127.0.0.1:${port}/v1/chat/completions`, {
      method: "POST",
      body: JSON.stringify({
        model: "m",
        messages: [{ role: "user", content: "hi" }],
        verity_context: { owner: client.owner, select: { facts: ["pets"] } },
      }),
    });
    const sent = JSON.parse(bodies[0] ?? "{}") as { messages: { role: string; content: string }[] };
    assert.equal(Object.hasOwn(sent, "verity_context"), false);
    assert.equal(sent.messages.length, 2);
    assert.equal(sent.messages[0]?.role, "system");
    assert.match(sent.messages[0]?.content ?? "", /dog named Rex/);
    assert.doesNotMatch(bodies[0] ?? "", /night shifts|metric|third talk/);
    assert.deepEqual(sent.messages[1], { role: "user", content: "hi" });
  } finally {
    server.close();
  }
});

test("a reference to a context this client has no key for is context_unresolved", async () => {
  const client = createContextClient({
    privateKey: generatePrivateKey(),
    backend: createFolderContextBackend({ dir: mkdtempSync(join(tmpdir(), "verity-ctx-")) }),
  });
  await assert.rejects(
    resolveContextReference({
      body: { messages: [], verity_context: { owner: `0x${"11".repeat(20)}` } },
      context: client,
    }),
    { code: "context_unresolved" },
  );
  await assert.rejects(
    resolveContextReference({ body: { messages: [], verity_context: { owner: client.owner } }, context: undefined }),
    { code: "context_unresolved" },
  );
  await assert.rejects(
    resolveContextReference({ body: { messages: [], verity_context: { owner: client.owner } }, context: client }),
    { code: "context_not_found" },
  );
});
