import assert from "node:assert/strict";
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { testUSDAbi } from "@verity/contracts";
import { createPublicClient, createWalletClient, custom, encodeFunctionData, type Hex, parseEther } from "viem";
import { privateKeyToAccount } from "viem/accounts";
import { JOURNAL_FILE, type JournalEntry } from "./chain-journal.ts";
import { deploy } from "./deploy.ts";
import { devnetAccounts } from "./devnet-accounts.ts";
import { devnetChain } from "./devnet-chain.ts";
import { createEdrChain, type EdrChain } from "./edr-chain.ts";
import { readHead, readTimeOffset } from "./journaled-provider.ts";

const accounts = devnetAccounts();
const genesis = accounts.map((a) => ({ privateKey: a.privateKey, balance: 10_000n * 10n ** 18n }));
const key = (name: string) => accounts.find((a) => a.name === name)?.privateKey as Hex;
const address = (name: string) => privateKeyToAccount(key(name)).address;

function open(dir: string, chainId?: number): Promise<EdrChain> {
  return createEdrChain({ accounts: genesis, journalDir: dir, ...(chainId === undefined ? {} : { chainId }) });
}

function clients(chain: EdrChain, name: string) {
  const transport = custom(chain.provider, { retryCount: 0 });
  const viemChain = devnetChain({ chainId: chain.chainId });
  return {
    publicClient: createPublicClient({ chain: viemChain, transport, pollingInterval: 10 }),
    wallet: createWalletClient({ chain: viemChain, transport, account: privateKeyToAccount(key(name)) }),
  };
}

function entries(dir: string): JournalEntry[] {
  return readFileSync(join(dir, JOURNAL_FILE), "utf8")
    .trim()
    .split("\n")
    .map((line) => JSON.parse(line) as JournalEntry);
}

async function snapshot(chain: EdrChain, token: `0x${string}`) {
  const { publicClient } = clients(chain, "deployer");
  const names = ["deployer", "client-1", "client-2", "provider-1"];
  return {
    head: await readHead(chain.provider),
    eth: await Promise.all(names.map((n) => publicClient.getBalance({ address: address(n) }))),
    tusd: await Promise.all(
      names.map((n) =>
        publicClient.readContract({ address: token, abi: testUSDAbi, functionName: "balanceOf", args: [address(n)] }),
      ),
    ),
  };
}

test("a journaled chain replays to the same head, balances and contracts after a restart", async (t) => {
  const dir = mkdtempSync(join(tmpdir(), "verity-journal-"));
  const first = await open(dir);
  assert.equal(first.persistence?.restored, false);
  const deployment = await deploy({ provider: first.provider, deployer: key("deployer") });
  const token = deployment.token.address;
  const { publicClient, wallet } = clients(first, "deployer");
  const mint = await wallet.writeContract({
    address: token,
    abi: testUSDAbi,
    functionName: "mint",
    args: [address("client-1"), 5_000_000n],
  });
  await publicClient.waitForTransactionReceipt({ hash: mint });
  // A transaction that reverts is still mined; the journal keeps it.
  const client2 = clients(first, "client-2").wallet;
  await assert.rejects(
    client2.sendTransaction({
      to: token,
      data: encodeFunctionData({ abi: testUSDAbi, functionName: "transfer", args: [address("client-1"), 1n] }),
      gas: 100_000n,
    }),
  );
  // Unsigned transactions from genesis accounts, time travel and state setters.
  await first.provider.request({
    method: "eth_sendTransaction",
    params: [{ from: address("client-1"), to: address("provider-1"), value: `0x${parseEther("1.5").toString(16)}` }],
  } as never);
  await first.provider.request({ method: "evm_increaseTime", params: [3_600] } as never);
  await first.provider.request({ method: "evm_mine", params: [] } as never);
  await first.provider.request({
    method: "hardhat_setBalance",
    params: [address("client-2"), `0x${parseEther("7").toString(16)}`],
  } as never);
  // Reads are not journaled; refused resets are not either.
  await first.provider.request({ method: "eth_blockNumber", params: [] } as never);
  await assert.rejects(first.provider.request({ method: "hardhat_reset", params: [] } as never), /not supported/);
  const before = await snapshot(first, token);
  await first.close();

  const written = entries(dir);
  assert.ok(written.some((e) => e.failed === true && e.mined !== undefined));
  assert.ok(!written.some((e) => e.method === "eth_blockNumber" || e.method === "hardhat_reset"));
  assert.deepEqual(written.at(-1)?.head, { number: before.head.number, hash: before.head.hash });

  const second = await open(dir);
  assert.equal(second.persistence?.restored, true);
  assert.equal(second.persistence?.replay.entries, written.length);
  t.diagnostic(
    `replayed ${written.length} entries (${before.head.number} blocks) in ${second.persistence?.replay.ms} ms`,
  );
  assert.deepEqual(await snapshot(second, token), before);
  // The restored chain goes on, and what it does next is journaled too.
  const again = clients(second, "client-1");
  const transfer = await again.wallet.writeContract({
    address: token,
    abi: testUSDAbi,
    functionName: "transfer",
    args: [address("client-2"), 1_000n],
  });
  await again.publicClient.waitForTransactionReceipt({ hash: transfer });
  const after = await snapshot(second, token);
  assert.equal(after.head.number, before.head.number + 1);
  await second.close();

  const third = await open(dir);
  assert.deepEqual(await snapshot(third, token), after);
  await third.close();
});

test("a torn last line is dropped, chain time is restored, and a damaged journal or other chain id is refused", async () => {
  const dir = mkdtempSync(join(tmpdir(), "verity-journal-"));
  const first = await open(dir);
  const { publicClient, wallet } = clients(first, "client-1");
  for (let i = 0; i < 3; i++) {
    await publicClient.waitForTransactionReceipt({
      hash: await wallet.sendTransaction({ to: address("client-2"), value: 1n }),
    });
  }
  const head = await readHead(first.provider);
  await first.close();

  // A crash in the middle of a write leaves a line without its newline: it was never acknowledged.
  const path = join(dir, JOURNAL_FILE);
  const whole = readFileSync(path, "utf8");
  // The chain was ahead of wall time by 10,000 s more when it stopped: it must be again after the restart.
  const lines = entries(dir);
  const last = lines.at(-1) as JournalEntry;
  const shifted = [...lines.slice(0, -1), { ...last, offset: last.offset + 10_000 }];
  writeFileSync(path, `${shifted.map((e) => JSON.stringify(e)).join("\n")}\n{"seq":3,"method":"eth_sendRaw`);
  const second = await open(dir);
  assert.deepEqual(await readHead(second.provider), head);
  assert.equal(await readTimeOffset(second.provider), last.offset + 10_000);
  await second.close();
  assert.equal(readFileSync(path, "utf8").endsWith("}\n"), true);

  await assert.rejects(open(dir, 1337), (e: { code?: string; message: string }) => {
    assert.equal(e.code, "state_dir_chain_mismatch");
    assert.match(e.message, /holds chain 31337, not chain 1337.*--state-dir/);
    return true;
  });

  // An entry whose recorded head differs from what replay produces: the state cannot be trusted.
  const tampered = entries(dir).map((e, i) =>
    i === 1 ? { ...e, head: { ...e.head, hash: `0x${"ab".repeat(32)}` } } : e,
  );
  writeFileSync(path, `${tampered.map((e) => JSON.stringify(e)).join("\n")}\n`);
  await assert.rejects(open(dir), (e: { code?: string }) => e.code === "state_replay_mismatch");
  writeFileSync(path, `${whole.trim().split("\n").slice(1).join("\n")}\n`);
  await assert.rejects(open(dir), (e: { code?: string }) => e.code === "state_replay_mismatch");
});
