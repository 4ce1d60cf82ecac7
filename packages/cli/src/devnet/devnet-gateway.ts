import { join } from "node:path";
import { type ChainClients, createNativeAccount, type DevnetAccount } from "@verity/chain";
import type { Deployment } from "@verity/core";
import { createGateway, type Gateway, type RefundCredit, sendGatewayDeposit } from "@verity/gateway";
import { createGatewayKey } from "@verity/sdk";
import type { EIP1193Provider } from "viem";

/** Prepaid balance the devnet's API key starts with (1,000 TUSD). */
export const DEVNET_PREPAID = 1_000_000_000n;

async function balanceOf(url: string, apiKey: string): Promise<bigint | undefined> {
  const response = await fetch(`${url}/v1/balance`, { headers: { authorization: `Bearer ${apiKey}` } });
  if (!response.ok) return undefined;
  const body = (await response.json()) as { balance?: string };
  return BigInt(body.balance ?? "0");
}

/**
 * Starts the devnet gateway and gives the first client a funded API key: the key is bound to
 * client-1's address and client-1 deposits TestUSD to the gateway through GatewayDeposits, exactly as
 * a real user would.
 * A key from an earlier run (`apiKey`) that the gateway still knows is kept as it is, and a balance
 * already credited to client-1 (a run that stopped before it recorded its key) is not topped up: a
 * restart never deposits twice. `onStarted` receives the gateway as soon as it listens, so a later failure can stop it.
 */
export async function startDevnetGateway(args: {
  accounts: readonly DevnetAccount[];
  deployment: Deployment;
  chain: EIP1193Provider;
  host: string;
  port: number;
  stateDir: string;
  client: ChainClients;
  apiKey?: string;
  /** The explorer page's built folder, served at `/`. */
  explorer?: { distDir: string };
  /** Audit sampling of paid answers (probability and validator intake URL). */
  audit?: { p: number; validatorUrl: string };
  onStarted?: (gateway: Gateway) => void;
  /** A guilty verdict's refund passed on to the customer who paid for the request. */
  onRefund?: (credit: RefundCredit) => void;
  onError?: (error: unknown) => void;
}): Promise<{
  gateway: Gateway;
  url: string;
  apiKey: string;
  address: `0x${string}`;
  balance: bigint;
  agentId?: bigint;
}> {
  const account = args.accounts.find((a) => a.role === "gateway");
  if (!account) throw new Error("devnet layout has no gateway account");
  const gateway = createGateway({
    allowPrivateEndpoints: true,
    deployment: args.deployment,
    provider: args.chain,
    account: createNativeAccount(account.privateKey),
    stateDir: join(args.stateDir, "gateway"),
    host: args.host,
    port: args.port,
    probeIntervalMs: 2_000,
    // An ERC-8004 identity, registered once (its id kept in the state folder): the signed Agent Card.
    agent: {},
    ...(args.explorer ? { explorer: args.explorer } : {}),
    ...(args.audit ? { audit: args.audit } : {}),
    ...(args.onRefund ? { onRefund: args.onRefund } : {}),
    ...(args.onError ? { onError: args.onError } : {}),
  });
  args.onStarted?.(gateway);
  const { url, address, agentId } = await gateway.start();
  if (args.apiKey !== undefined) {
    const balance = await balanceOf(url, args.apiKey);
    if (balance !== undefined)
      return { gateway, url, apiKey: args.apiKey, address, balance, ...(agentId ? { agentId } : {}) };
  }
  const created = await createGatewayKey({
    gatewayUrl: url,
    account: args.client.account as never,
    chainId: args.deployment.chainId,
    scope: { label: "devnet" },
  });
  const credited = (await balanceOf(url, created.key)) ?? 0n;
  if (credited > 0n)
    return { gateway, url, apiKey: created.key, address, balance: credited, ...(agentId ? { agentId } : {}) };
  await sendGatewayDeposit({
    clients: args.client,
    deployment: args.deployment,
    gateway: address,
    amount: DEVNET_PREPAID,
  });
  let balance = 0n;
  for (let i = 0; i < 200 && balance < DEVNET_PREPAID; i++) {
    balance = (await balanceOf(url, created.key)) ?? 0n;
    if (balance < DEVNET_PREPAID) await new Promise((r) => setTimeout(r, 50));
  }
  return { gateway, url, apiKey: created.key, address, balance, ...(agentId ? { agentId } : {}) };
}
