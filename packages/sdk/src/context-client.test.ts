import assert from "node:assert/strict";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { generatePrivateKey } from "viem/accounts";
import { createFolderContextBackend } from "./context-backends.ts";
import { createContextClient } from "./context-client.ts";
import type { UserContext } from "./context-schema.ts";

const ctx = (n: number): UserContext => ({ preferences: { n }, facts: [], summaries: [{ text: `talk ${n}` }] });

test("a folder store: versions chain, a missing middle version is context_blob_missing, a rollback is stale", async () => {
  const dir = mkdtempSync(join(tmpdir(), "verity-ctx-folder-"));
  const privateKey = generatePrivateKey();
  const writer = createContextClient({ privateKey, backend: createFolderContextBackend({ dir }) });
  await writer.put(ctx(1));
  const reader = createContextClient({ privateKey, backend: createFolderContextBackend({ dir }) });
  assert.equal((await reader.get())?.version.version, 1);
  for (const n of [2, 3, 4]) await writer.put(ctx(n));
  const folder = join(dir, writer.owner.toLowerCase());
  // the reader saw version 1: reaching version 4 needs 3 and 2 to walk the chain back
  const three = readFileSync(join(folder, "3.json"), "utf8");
  rmSync(join(folder, "3.json"));
  await assert.rejects(reader.get(), { code: "context_blob_missing" });
  writeFileSync(join(folder, "3.json"), three);
  assert.deepEqual((await reader.get())?.context, ctx(4));
  // the folder loses its newest version: the reader, having seen 4, refuses 3
  rmSync(join(folder, "4.json"));
  await assert.rejects(reader.get(), { code: "context_version_stale" });
  // writing a version already in the folder (exclusive create) is stale, and leaves the file as it was
  const backend = createFolderContextBackend({ dir });
  const stored = await backend.at(writer.owner, 3);
  assert.ok(stored);
  await assert.rejects(backend.put(stored), { code: "context_version_stale" });
  assert.equal(readFileSync(join(folder, "3.json"), "utf8"), three);
});

test("another owner's versions copied into my folder are refused, not decrypted", async () => {
  const dir = mkdtempSync(join(tmpdir(), "verity-ctx-folder-"));
  const mine = createContextClient({ privateKey: generatePrivateKey(), backend: createFolderContextBackend({ dir }) });
  const theirs = createContextClient({
    privateKey: generatePrivateKey(),
    backend: createFolderContextBackend({ dir }),
  });
  await theirs.put(ctx(1));
  const file = join(dir, theirs.owner.toLowerCase(), "1.json");
  const mineDir = join(dir, mine.owner.toLowerCase());
  rmSync(mineDir, { recursive: true, force: true });
  mkdirSync(mineDir, { recursive: true });
  writeFileSync(join(mineDir, "1.json"), readFileSync(file));
  await assert.rejects(mine.get(), { code: "context_signature_invalid" });
});
