import { connectChain } from "@verity/chain";
import type { TestChain } from "@verity/chain/testing";
import type { Deployment, KeyScope } from "@verity/core";
import { createGatewayKey } from "@verity/sdk";
import { privateKeyToAccount } from "viem/accounts";
import { mintTestUSD } from "../../provider/src/testing.ts";
import { type GatewayDepositResult, sendGatewayDeposit } from "./gateway-deposit.ts";

export { startTestPostgres, type TestPostgres } from "./store/postgres-testing.ts";

/** The gateway's view of a key's balance, or undefined when the key is refused. */
export async function keyBalance(url: string, key: string): Promise<bigint | undefined> {
  const res = await fetch(`${url}/v1/balance`, { headers: { authorization: `Bearer ${key}` } });
  if (!res.ok) return undefined;
  return BigInt(((await res.json()) as { balance: string }).balance);
}

/**
 * Creates an API key for the test account `account`, proving control of its address the way a real
 * owner does (a signed sign-in message over the gateway's nonce), with an optional scope.
 */
export async function createTestKey(args: {
  t: TestChain;
  url: string;
  account: string;
  label?: string;
  scope?: KeyScope;
}) {
  return createGatewayKey({
    gatewayUrl: args.url,
    account: privateKeyToAccount(args.t.account(args.account).privateKey),
    scope: { ...(args.label ? { label: args.label } : {}), ...args.scope },
  });
}

/**
 * Deposits `amount` of the payment token from `account` to the gateway at `gateway` through the
 * GatewayDeposits contract (permit + deposit in one transaction), credited to `account` or `for`;
 * mints the tokens first.
 */
export async function depositToGateway(args: {
  t: TestChain;
  deployment: Deployment;
  account: string;
  gateway: `0x${string}`;
  amount: bigint;
  for?: `0x${string}`;
}): Promise<GatewayDepositResult> {
  await mintTestUSD(args.t, args.deployment, args.account, args.amount);
  const clients = await connectChain({
    provider: args.t.edr.provider,
    account: args.t.account(args.account).privateKey,
  });
  return sendGatewayDeposit({
    clients,
    deployment: args.deployment,
    gateway: args.gateway,
    amount: args.amount,
    ...(args.for ? { account: args.for } : {}),
  });
}

/**
 * A funded API key: a key for `account`, a deposit of `amount` to the gateway, then waits until the
 * gateway credits it (its balance reaches at least `amount`).
 */
export async function fundedKey(args: {
  t: TestChain;
  deployment: Deployment;
  url: string;
  account: string;
  amount: bigint;
}): Promise<{ key: string; depositTo: `0x${string}` }> {
  const created = await createTestKey(args);
  await depositToGateway({ ...args, gateway: created.depositTo });
  for (let i = 0; i < 400; i++) {
    if (((await keyBalance(args.url, created.key)) ?? 0n) >= args.amount) return created;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`the gateway did not credit the deposit of ${args.amount} to ${args.account}`);
}
