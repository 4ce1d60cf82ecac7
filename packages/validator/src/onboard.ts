/**
 * Puts a validator on-chain, idempotently: its ERC-8004 agent identity (registered once; pass the
 * known id to reuse it) and its place in the Disputes validator set, posting `validatorBond`.
 */
import { type ChainClients, ensureAgent } from "@verity/chain";
import { disputesAbi, testUSDAbi } from "@verity/contracts";
import { ConfigError, type Deployment } from "@verity/core";
import { maxUint256 } from "viem";
import type { TxSender } from "./tx-sender.ts";

export type OnboardedValidator = { agentId: bigint; bond: bigint };

export async function onboardValidator(args: {
  clients: ChainClients;
  deployment: Deployment;
  sender: TxSender;
  agentId?: bigint;
  agentURI: string;
  onStep?: (step: string) => void;
}): Promise<OnboardedValidator> {
  const { clients, deployment, sender } = args;
  const c = deployment.contracts;
  const me = clients.account.address;
  const step = args.onStep ?? (() => {});
  const read = clients.publicClient.readContract;

  const [registered, registeredAgentId, bond] = await read({
    address: c.Disputes.address,
    abi: disputesAbi,
    functionName: "validatorOf",
    args: [me],
  });
  const known = args.agentId ?? (registered ? registeredAgentId : undefined);
  const agentId = await ensureAgent({
    clients,
    deployment,
    ...(known === undefined ? {} : { agentId: known }),
    agentURI: args.agentURI,
    role: "validator",
    send: (what, write) => sender.send(what, write),
    onStep: step,
  });
  if (registered) return { agentId, bond };

  const required = await read({ address: c.Disputes.address, abi: disputesAbi, functionName: "validatorBond" });
  const token = deployment.token.address;
  const balance = await read({ address: token, abi: testUSDAbi, functionName: "balanceOf", args: [me] });
  if (balance < required) {
    throw new ConfigError(
      `The validator bond needs ${required} ${deployment.token.symbol} base units but ${me} holds ${balance}`,
      {
        code: "account_unfunded",
        hint: "Fund the validator account with the payment token (on a devnet: `verity wallet faucet`)",
        details: { address: me, balance: balance.toString(), required: required.toString() },
      },
    );
  }
  await approveDisputes({ clients, deployment, sender, amount: required });
  await sender.send("Registering as a validator", {
    address: c.Disputes.address,
    abi: disputesAbi,
    functionName: "registerValidator",
    args: [agentId],
  });
  step(`joined the validator set with a bond of ${required}`);
  return { agentId, bond: required };
}

/** Makes sure Disputes may pull `amount` of the payment token (bonds are pulled with an allowance). */
export async function approveDisputes(args: {
  clients: ChainClients;
  deployment: Deployment;
  sender: TxSender;
  amount: bigint;
}): Promise<void> {
  const spender = args.deployment.contracts.Disputes.address;
  const allowance = await args.clients.publicClient.readContract({
    address: args.deployment.token.address,
    abi: testUSDAbi,
    functionName: "allowance",
    args: [args.clients.account.address, spender],
  });
  if (allowance >= args.amount) return;
  await args.sender.send("Approving Disputes for bonds", {
    address: args.deployment.token.address,
    abi: testUSDAbi,
    functionName: "approve",
    args: [spender, maxUint256],
  });
}
