import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import { createPublicClient, createWalletClient, http, parseEther } from "viem";
import { privateKeyToAccount } from "viem/accounts";
import { devnetChain } from "./devnet-chain.ts";
import { createRpcServer } from "./rpc-server.ts";
import { createTestChain, type TestChain } from "./testing.ts";

let t: TestChain;
let server: ReturnType<typeof createRpcServer>;
let url: string;
before(async () => {
  t = await createTestChain();
  server = createRpcServer({ provider: t.edr.provider, port: 0 });
  url = await server.start();
});
after(async () => {
  await server.stop();
  await t.close();
});

async function post(body: string) {
  const response = await fetch(url, { method: "POST", headers: { "content-type": "application/json" }, body });
  return { status: response.status, json: (await response.json()) as unknown };
}

test("viem reads and sends transactions over HTTP", async () => {
  const chain = devnetChain({ rpcUrl: url });
  const client = createPublicClient({ chain, transport: http(url) });
  assert.equal(await client.getChainId(), 31337);
  const wallet = createWalletClient({
    chain,
    transport: http(url),
    account: privateKeyToAccount(t.account("client-1").privateKey),
  });
  const to = t.account("client-2").address;
  const before = await client.getBalance({ address: to });
  const hash = await wallet.sendTransaction({ to, value: parseEther("1") });
  await client.waitForTransactionReceipt({ hash });
  assert.equal((await client.getBalance({ address: to })) - before, parseEther("1"));
});

test("batches, parse errors, bad requests and unknown methods answer in JSON-RPC form", async () => {
  const batch = await post(
    JSON.stringify([
      { jsonrpc: "2.0", id: 1, method: "eth_chainId", params: [] },
      { jsonrpc: "2.0", id: 2, method: "net_version", params: [] },
    ]),
  );
  assert.deepEqual(
    (batch.json as { id: number; result: string }[]).map((r) => [r.id, r.result]),
    [
      [1, "0x7a69"],
      [2, "31337"],
    ],
  );
  const parse = await post("{not json");
  assert.equal((parse.json as { error: { code: number } }).error.code, -32700);
  const invalid = await post(JSON.stringify({ jsonrpc: "2.0", id: 3 }));
  assert.equal((invalid.json as { error: { code: number } }).error.code, -32600);
  const empty = await post("[]");
  assert.equal((empty.json as { error: { code: number } }).error.code, -32600);
  const unknown = await post(JSON.stringify({ jsonrpc: "2.0", id: 4, method: "eth_doesNotExist", params: [] }));
  const error = (unknown.json as { id: number; error: { code: number; message: string } }).error;
  assert.equal((unknown.json as { id: number }).id, 4);
  assert.ok(error.code < 0 && error.message.length > 0);
});

test("a second server on the same port fails with port_in_use", async () => {
  const port = Number(new URL(url).port);
  const clash = createRpcServer({ provider: t.edr.provider, port });
  await assert.rejects(clash.start(), (e: { code?: string }) => e.code === "port_in_use");
});
