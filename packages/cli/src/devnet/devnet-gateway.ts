import { join } from "node:path";
import type { ChainClients, DevnetAccount } from "@verity/chain";
import { testUSDAbi } from "@verity/contracts";
import type { Deployment } from "@verity/core";
import { createGateway, type Gateway } from "@verity/gateway";
import type { EIP1193Provider } from "viem";
import { privateKeyToAccount } from "viem/accounts";

/** Prepaid balance the devnet's API key starts with (1,000 TUSD). */
export const DEVNET_PREPAID = 1_000_000_000n;

/**
 * Starts the devnet gateway and gives the first client a funded API key: the key is bound to
 * client-1's address and client-1 deposits TestUSD to the gateway, exactly as a real user would.
 */
export async function startDevnetGateway(args: {
  accounts: readonly DevnetAccount[];
  deployment: Deployment;
  chain: EIP1193Provider;
  host: string;
  port: number;
  stateDir: string;
  client: ChainClients;
}): Promise<{ gateway: Gateway; url: string; apiKey: string; address: `0x${string}` }> {
  const account = args.accounts.find((a) => a.role === "gateway");
  if (!account) throw new Error("devnet layout has no gateway account");
  const gateway = createGateway({
    deployment: args.deployment,
    provider: args.chain,
    account: privateKeyToAccount(account.privateKey),
    stateDir: join(args.stateDir, "gateway"),
    host: args.host,
    port: args.port,
    probeIntervalMs: 2_000,
  });
  const { url, address } = await gateway.start();
  const created = (await (
    await fetch(`${url}/v1/keys`, {
      method: "POST",
      body: JSON.stringify({ owner: args.client.account.address, label: "devnet" }),
    })
  ).json()) as { key: string };
  await args.client.transact("Depositing to the gateway", () =>
    args.client.walletClient.writeContract({
      address: args.deployment.token.address,
      abi: testUSDAbi,
      functionName: "transfer",
      args: [address, DEVNET_PREPAID],
      chain: args.client.chain,
      account: args.client.account,
    }),
  );
  for (let i = 0; i < 200; i++) {
    const balance = (await (
      await fetch(`${url}/v1/balance`, { headers: { authorization: `Bearer ${created.key}` } })
    ).json()) as { balance?: string };
    if (BigInt(balance.balance ?? "0") >= DEVNET_PREPAID) break;
    await new Promise((r) => setTimeout(r, 50));
  }
  return { gateway, url, apiKey: created.key, address };
}
