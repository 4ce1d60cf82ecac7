import type { ChainClients, DevnetAccount, DevnetRole } from "@verity/chain";
import { testUSDAbi } from "@verity/contracts";
import type { Deployment } from "@verity/core";

/** TestUSD (6 decimals) each devnet role starts with. */
export const DEVNET_TUSD: Record<DevnetRole, bigint> = {
  deployer: 1_000_000n * 10n ** 6n,
  treasury: 0n,
  modelOwner: 1_000n * 10n ** 6n,
  gateway: 100_000n * 10n ** 6n,
  provider: 10_000n * 10n ** 6n,
  client: 100_000n * 10n ** 6n,
  validator: 10_000n * 10n ** 6n,
};

/**
 * Tops every devnet account up to its TestUSD amount (the deployer owns TestUSD on a devnet). On a
 * new chain that mints the whole amount; after a crash in the middle of funding it mints only what
 * is missing. Returns how many accounts it minted to.
 */
export async function fundAccounts(args: {
  clients: ChainClients;
  deployment: Deployment;
  accounts: readonly DevnetAccount[];
}): Promise<number> {
  const { clients, deployment } = args;
  const token = deployment.token.address;
  let nonce = await clients.publicClient.getTransactionCount({ address: clients.account.address, blockTag: "pending" });
  const hashes: `0x${string}`[] = [];
  for (const account of args.accounts) {
    const target = DEVNET_TUSD[account.role];
    if (target === 0n) continue;
    const balance = await clients.publicClient.readContract({
      address: token,
      abi: testUSDAbi,
      functionName: "balanceOf",
      args: [account.address],
    });
    const amount = target - balance;
    if (amount <= 0n) continue;
    hashes.push(
      await clients.walletClient.writeContract({
        address: token,
        abi: testUSDAbi,
        functionName: "mint",
        args: [account.address, amount],
        nonce: nonce++,
      }),
    );
  }
  for (const hash of hashes) {
    const receipt = await clients.publicClient.waitForTransactionReceipt({ hash });
    if (receipt.status !== "success") throw new Error(`minting TestUSD failed in ${hash}`);
  }
  return hashes.length;
}
