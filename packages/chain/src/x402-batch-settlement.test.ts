import assert from "node:assert/strict";
import { test } from "node:test";
import { x402BatchSettlementAbi } from "@verity/contracts";
import { createTestChain } from "./testing.ts";
import {
  installX402BatchSettlement,
  MULTICALL3_ADDRESS,
  X402_BATCH_SETTLEMENT_ADDRESS,
  X402_ERC3009_DEPOSIT_COLLECTOR_ADDRESS,
} from "./x402-batch-settlement.ts";

test("installs the three contracts at the canonical addresses once, sending no transaction", async () => {
  const t = await createTestChain();
  try {
    const deployer = t.account("deployer").address;
    const nonce = await t.publicClient.getTransactionCount({ address: deployer });
    const first = await installX402BatchSettlement({ client: t.publicClient });
    assert.deepEqual(first.installed, ["X402BatchSettlement", "Erc3009DepositCollector", "Multicall3"]);
    for (const address of [X402_BATCH_SETTLEMENT_ADDRESS, X402_ERC3009_DEPOSIT_COLLECTOR_ADDRESS, MULTICALL3_ADDRESS]) {
      assert.notEqual(await t.publicClient.getCode({ address }), undefined);
    }
    const again = await installX402BatchSettlement({ client: t.edr.provider });
    assert.deepEqual(again.installed, []);
    assert.equal(await t.publicClient.getTransactionCount({ address: deployer }), nonce);
    // The copied code works at its new address: constants and the EIP-712 domain.
    const [, name, version, chainId, verifyingContract] = await t.publicClient.readContract({
      address: X402_BATCH_SETTLEMENT_ADDRESS,
      abi: x402BatchSettlementAbi,
      functionName: "eip712Domain",
    });
    assert.deepEqual(
      [name, version, chainId, verifyingContract],
      ["x402 Batch Settlement", "1", 31337n, X402_BATCH_SETTLEMENT_ADDRESS],
    );
  } finally {
    await t.close();
  }
});

test("refuses any chain but 31337", async () => {
  const t = await createTestChain({ chainId: 1337 });
  try {
    await assert.rejects(installX402BatchSettlement({ client: t.publicClient }), /chain 31337 only, not chain 1337/);
  } finally {
    await t.close();
  }
});
