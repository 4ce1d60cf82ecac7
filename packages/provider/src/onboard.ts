import { type ChainClients, ensureAgent } from "@verity/chain";
import { modelRegistryAbi, stakingAbi, testUSDAbi } from "@verity/contracts";
import { ConfigError, type Deployment } from "@verity/core";
import type { ModelIdentity } from "@verity/engine";
import { maxUint256, parseEventLogs } from "viem";

export type OfferSpec = {
  name: string;
  identity: ModelIdentity;
  inputPricePerMTok: bigint;
  outputPricePerMTok: bigint;
  maxOutputTokens: number;
  /** Register the model (owned by this provider, royalty 0) when nobody has yet. */
  registerModelIfMissing?: boolean;
};

export type OnboardResult = { agentId: bigint; offers: { name: string; modelId: bigint; offerId: bigint }[] };

/**
 * Puts a provider on-chain, idempotently: registers its agent identity (once: pass the known
 * `agentId` to reuse it), tops its stake up to `stake`, and adds or updates one offer per served
 * model with the given prices and endpoint. Each step is skipped when the chain already matches.
 */
export async function onboardProvider(args: {
  clients: ChainClients;
  deployment: Deployment;
  agentId?: bigint;
  agentURI: string;
  stake: bigint;
  endpoint: string;
  offers: readonly OfferSpec[];
  onStep?: (step: string) => void;
}): Promise<OnboardResult> {
  const { clients, deployment } = args;
  const c = deployment.contracts;
  const me = clients.account.address;
  const step = args.onStep ?? (() => {});
  const read = clients.publicClient.readContract;
  const send = (what: string, request: Parameters<typeof clients.walletClient.writeContract>[0]) =>
    clients.transact(what, () => clients.walletClient.writeContract(request));

  const agentId = await ensureAgent({
    clients,
    deployment,
    ...(args.agentId === undefined ? {} : { agentId: args.agentId }),
    agentURI: args.agentURI,
    role: "provider",
    send: (what, write) => send(what, { ...write, chain: clients.chain, account: clients.account } as never),
    onStep: step,
  });

  const [bonded] = await read({
    address: c.Staking.address,
    abi: stakingAbi,
    functionName: "stakeOf",
    args: [agentId],
  });
  if (bonded < args.stake) {
    const missing = args.stake - bonded;
    const token = deployment.token.address;
    const balance = await read({ address: token, abi: testUSDAbi, functionName: "balanceOf", args: [me] });
    if (balance < missing) {
      throw new ConfigError(
        `Staking needs ${missing} more ${deployment.token.symbol} base units but ${me} holds ${balance}`,
        {
          code: "account_unfunded",
          hint: "Fund the provider account with the payment token (on a devnet: `verity wallet faucet`) or lower --stake",
        },
      );
    }
    const allowance = await read({
      address: token,
      abi: testUSDAbi,
      functionName: "allowance",
      args: [me, c.Staking.address],
    });
    if (allowance < missing) {
      await send("Approving the stake", {
        address: token,
        abi: testUSDAbi,
        functionName: "approve",
        args: [c.Staking.address, maxUint256],
        chain: clients.chain,
        account: clients.account,
      });
    }
    await send("Staking", {
      address: c.Staking.address,
      abi: stakingAbi,
      functionName: "stake",
      args: [agentId, missing],
      chain: clients.chain,
      account: clients.account,
    });
    step(`staked ${missing} (bonded ${args.stake})`);
  }

  const existing = new Map<
    bigint,
    {
      offerId: bigint;
      offer: { inputPricePerMTok: bigint; outputPricePerMTok: bigint; maxOutputTokens: number; endpoint: string };
    }
  >();
  const offerIds = await read({
    address: c.Staking.address,
    abi: stakingAbi,
    functionName: "offersOf",
    args: [agentId],
  });
  for (const offerId of offerIds) {
    const offer = await read({
      address: c.Staking.address,
      abi: stakingAbi,
      functionName: "getOffer",
      args: [offerId],
    });
    existing.set(BigInt(offer.modelId), {
      offerId,
      offer: { ...offer, maxOutputTokens: Number(offer.maxOutputTokens) },
    });
  }
  const offers: OnboardResult["offers"] = [];
  for (const spec of args.offers) {
    let modelId = await read({
      address: c.ModelRegistry.address,
      abi: modelRegistryAbi,
      functionName: "modelIdOf",
      args: [spec.identity.weightsHash, spec.identity.tokenizerHash],
    });
    if (modelId === 0n) {
      if (!spec.registerModelIfMissing) {
        throw new ConfigError(
          `Model ${spec.name} (weights ${spec.identity.weightsHash}) is not registered in the ModelRegistry`,
          {
            code: "unknown_model",
            hint: "Ask its owner to register it (`verity model register`) or start with --register-model",
          },
        );
      }
      const receipt = await send(`Registering model ${spec.name}`, {
        address: c.ModelRegistry.address,
        abi: modelRegistryAbi,
        functionName: "registerModel",
        args: [spec.identity.weightsHash, spec.identity.tokenizerHash, 0, "", spec.name],
        chain: clients.chain,
        account: clients.account,
      });
      const [registered] = parseEventLogs({ abi: modelRegistryAbi, logs: receipt.logs, eventName: "ModelRegistered" });
      modelId = registered?.args.modelId ?? 0n;
      step(`registered model ${spec.name} as ${modelId}`);
    }
    const current = existing.get(modelId);
    const wanted = {
      inputPricePerMTok: spec.inputPricePerMTok,
      outputPricePerMTok: spec.outputPricePerMTok,
      maxOutputTokens: spec.maxOutputTokens,
      endpoint: args.endpoint,
    };
    if (!current) {
      const receipt = await send(`Publishing the offer for ${spec.name}`, {
        address: c.Staking.address,
        abi: stakingAbi,
        functionName: "addOffer",
        args: [
          agentId,
          modelId,
          wanted.inputPricePerMTok,
          wanted.outputPricePerMTok,
          wanted.maxOutputTokens,
          wanted.endpoint,
        ],
        chain: clients.chain,
        account: clients.account,
      });
      const [added] = parseEventLogs({ abi: stakingAbi, logs: receipt.logs, eventName: "OfferAdded" });
      offers.push({ name: spec.name, modelId, offerId: added?.args.offerId ?? 0n });
      step(`published offer for ${spec.name}`);
      continue;
    }
    const o = current.offer;
    if (
      o.inputPricePerMTok !== wanted.inputPricePerMTok ||
      o.outputPricePerMTok !== wanted.outputPricePerMTok ||
      o.maxOutputTokens !== wanted.maxOutputTokens ||
      o.endpoint !== wanted.endpoint
    ) {
      await send(`Updating the offer for ${spec.name}`, {
        address: c.Staking.address,
        abi: stakingAbi,
        functionName: "updateOffer",
        args: [
          current.offerId,
          wanted.inputPricePerMTok,
          wanted.outputPricePerMTok,
          wanted.maxOutputTokens,
          wanted.endpoint,
        ],
        chain: clients.chain,
        account: clients.account,
      });
      step(`updated offer for ${spec.name}`);
    }
    offers.push({ name: spec.name, modelId, offerId: current.offerId });
  }
  return { agentId, offers };
}
