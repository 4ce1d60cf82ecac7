/**
 * The oracle node: a staked provider answering `InferenceOracle` requests. It follows
 * `OracleRequested` events, runs each request it can serve through the provider's engine with the
 * request's seed and sampling, signs the oracle receipt with the provider's key, posts the answer
 * with the answer bond, and finalizes its answers once their challenge window has passed (which
 * pays it and fires the requester's callback). Requests it cannot or should not serve are skipped
 * with a reason code (`oracle_model_not_served`, `oracle_fee_too_low`, `oracle_deadline_passed`, …).
 */
import { connectChain, toChainError } from "@verity/chain";
import { inferenceOracleAbi, modelRegistryAbi, stakingAbi, testUSDAbi } from "@verity/contracts";
import { BaseError, ConfigError, type Deployment, type ReasonCode, type Receipt } from "@verity/core";
import { type Engine, MAX_SEED } from "@verity/engine";
import {
  type EIP1193Provider,
  encodeAbiParameters,
  hexToString,
  keccak256,
  type LocalAccount,
  maxUint256,
  stringToHex,
  toHex,
  zeroHash,
} from "viem";
import { z } from "zod";
import { createReceiptSigner } from "./receipt-signer.ts";

/** Longest answer the oracle stores (`InferenceOracle.MAX_ANSWER_BYTES`). */
const MAX_ANSWER_BYTES = 4096;

/** Request statuses of `InferenceOracle` (its `Status` enum). */
const STATUS = { open: 1, answered: 2, challenged: 3, cleared: 4 } as const;

export type OracleNodeEvent =
  | { event: "answered"; requestId: bigint; txHash: `0x${string}`; latencyMs: number; answer: string }
  | { event: "skipped"; requestId: bigint; code: ReasonCode }
  | { event: "answer_rejected"; requestId: bigint; code: ReasonCode }
  | { event: "finalized"; requestId: bigint; txHash: `0x${string}`; callback: boolean | null };

export type OracleNodeOptions = {
  deployment: Deployment;
  rpcUrl?: string;
  provider?: EIP1193Provider;
  /** The provider's key: its agent's wallet, owner or an operator. It pays the answer bonds. */
  account: LocalAccount;
  agentId: bigint;
  /** Engines served; each needs a registered model and an offer of `agentId` for it. */
  engines: Engine[];
  pollMs?: number;
  /** Finalize this node's answers after their challenge window (default true). */
  finalize?: boolean;
  onEvent?: (event: OracleNodeEvent) => void;
  onError?: (error: unknown) => void;
};

/** What `OracleRequested` carries that the node needs, checked at the chain boundary. */
const requestSchema = z.object({
  requestId: z.bigint(),
  modelId: z.bigint(),
  promptHash: z.string(),
  params: z.object({
    prompt: z.string(),
    promptURI: z.string(),
    maxTokens: z.number().int().positive(),
    temperatureMilli: z.number().int().nonnegative(),
    topPMilli: z.number().int().nonnegative(),
    seed: z.bigint(),
    fee: z.bigint(),
    deadline: z.bigint(),
  }),
});
type OracleRequest = z.infer<typeof requestSchema>;

function codeOf(error: unknown): ReasonCode {
  return error instanceof BaseError ? error.code : "internal_error";
}

export function createOracleNode(options: OracleNodeOptions) {
  const oracleAddress = options.deployment.contracts.InferenceOracle?.address;
  if (!oracleAddress) {
    throw new ConfigError("The deployment has no InferenceOracle", {
      code: "deployment_outdated",
      hint: "Redeploy with this version (`verity deploy`, or restart the devnet)",
    });
  }
  const pollMs = options.pollMs ?? 1_000;
  const emit = (e: OracleNodeEvent) => options.onEvent?.(e);
  const served = new Map<bigint, { engine: Engine; offerId: bigint }>();
  const pendingFinalize = new Map<bigint, number>(); // requestId → unix seconds it becomes finalizable
  const seenAt = new Map<bigint, number>(); // requestId → ms the node first saw it
  let chain: Awaited<ReturnType<typeof connectChain>> | undefined;
  let cursor = 0n;
  let timer: NodeJS.Timeout | undefined;
  let running: Promise<void> | undefined;
  let stopped = false;
  let challengeWindow = 0n;
  let chainAheadSec = 0; // how far chain time ran ahead of this clock at the latest answer

  async function resolveOffers(c: NonNullable<typeof chain>): Promise<void> {
    const { Staking, ModelRegistry } = options.deployment.contracts;
    const offerIds = await c.publicClient.readContract({
      address: Staking.address,
      abi: stakingAbi,
      functionName: "offersOf",
      args: [options.agentId],
    });
    const offers = await Promise.all(
      offerIds.map(async (id) => ({
        id,
        offer: await c.publicClient.readContract({
          address: Staking.address,
          abi: stakingAbi,
          functionName: "getOffer",
          args: [id],
        }),
      })),
    );
    for (const engine of options.engines) {
      const modelId = await c.publicClient.readContract({
        address: ModelRegistry.address,
        abi: modelRegistryAbi,
        functionName: "modelIdOf",
        args: [engine.identity.weightsHash, engine.identity.tokenizerHash],
      });
      const match = offers.find((o) => o.offer.modelId === modelId && modelId !== 0n);
      if (match) served.set(modelId, { engine, offerId: match.id });
    }
    if (served.size === 0) {
      throw new ConfigError(`Agent ${options.agentId} has no offer for any model this node serves`, {
        code: "oracle_model_not_served",
        hint: "Start the provider for these models first (`verity provider start`), then the oracle node",
      });
    }
  }

  /** The prompt text: inline, or fetched from an http(s) URI and checked against its hash. */
  async function promptOf(r: OracleRequest): Promise<string | undefined> {
    if (r.params.prompt !== "0x") return hexToString(r.params.prompt as `0x${string}`);
    if (!/^https?:\/\//.test(r.params.promptURI)) return undefined;
    try {
      const res = await fetch(r.params.promptURI, { signal: AbortSignal.timeout(10_000) });
      const text = await res.text();
      return keccak256(stringToHex(text)) === r.promptHash ? text : undefined;
    } catch {
      return undefined;
    }
  }

  async function handle(c: NonNullable<typeof chain>, r: OracleRequest): Promise<void> {
    const serving = served.get(r.modelId);
    if (!serving) return emit({ event: "skipped", requestId: r.requestId, code: "oracle_model_not_served" });
    const state = await c.publicClient.readContract({
      address: oracleAddress as `0x${string}`,
      abi: inferenceOracleAbi,
      functionName: "getRequest",
      args: [r.requestId],
    });
    if (state.status !== STATUS.open) {
      return emit({ event: "skipped", requestId: r.requestId, code: "oracle_already_answered" });
    }
    if (BigInt(Math.floor(Date.now() / 1000)) > r.params.deadline) {
      return emit({ event: "skipped", requestId: r.requestId, code: "oracle_deadline_passed" });
    }
    const text = await promptOf(r);
    if (text === undefined)
      return emit({ event: "skipped", requestId: r.requestId, code: "oracle_prompt_unavailable" });
    const engine = serving.engine;
    const promptTokens = engine.tokenize(text).length;
    const price = await c.publicClient.readContract({
      address: oracleAddress as `0x${string}`,
      abi: inferenceOracleAbi,
      functionName: "priceOf",
      args: [serving.offerId, r.modelId, promptTokens, r.params.maxTokens],
    });
    if (r.params.fee < price) return emit({ event: "skipped", requestId: r.requestId, code: "oracle_fee_too_low" });
    const result = await engine.generate({
      prompt: { text },
      sampling: {
        temperature: Math.min(r.params.temperatureMilli / 1000, 2),
        topP: Math.min(Math.max(r.params.topPMilli, 1) / 1000, 1),
        seed: Number(r.params.seed % BigInt(MAX_SEED + 1)),
        maxTokens: r.params.maxTokens,
      },
    });
    let answer = stringToHex(result.text);
    if ((answer.length - 2) / 2 > MAX_ANSWER_BYTES) answer = `0x${answer.slice(2, 2 + MAX_ANSWER_BYTES * 2)}`;
    if (answer === "0x") return emit({ event: "skipped", requestId: r.requestId, code: "oracle_answer_empty" });
    const receipt: Receipt = {
      requestId: toHex(r.requestId, { size: 32 }),
      channelId: zeroHash,
      modelId: r.modelId,
      promptHash: r.promptHash as `0x${string}`,
      outputHash: keccak256(answer),
      paramsHash: keccak256(
        encodeAbiParameters(
          [{ type: "uint32" }, { type: "uint32" }, { type: "uint32" }, { type: "uint64" }],
          [r.params.maxTokens, r.params.temperatureMilli, r.params.topPMilli, r.params.seed],
        ),
      ),
      promptTokens: result.usage.promptTokens,
      completionTokens: Math.min(result.usage.completionTokens, r.params.maxTokens),
      charge: r.params.fee,
      cumulativeCharged: r.params.fee,
      timestamp: BigInt(Math.floor(Date.now() / 1000)),
    };
    const signer = createReceiptSigner({
      account: options.account,
      chainId: c.chainId,
      paymentChannels: oracleAddress as `0x${string}`,
    });
    const { signature } = await signer.sign(receipt);
    try {
      const tx = await c.transact(`Answering oracle request ${r.requestId}`, () =>
        c.walletClient.writeContract({
          address: oracleAddress as `0x${string}`,
          abi: inferenceOracleAbi,
          functionName: "answer",
          args: [r.requestId, serving.offerId, answer, receipt, signature as `0x${string}`],
        }),
      );
      const block = await c.publicClient.getBlock({ blockNumber: tx.blockNumber });
      chainAheadSec = Math.max(0, Number(block.timestamp) - Math.floor(Date.now() / 1000));
      pendingFinalize.set(r.requestId, Number(block.timestamp + challengeWindow) + 1);
      emit({
        event: "answered",
        requestId: r.requestId,
        txHash: tx.transactionHash,
        latencyMs: Date.now() - (seenAt.get(r.requestId) ?? Date.now()),
        answer: result.text,
      });
    } catch (error) {
      emit({ event: "answer_rejected", requestId: r.requestId, code: codeOf(error) });
    }
  }

  async function finalizeDue(c: NonNullable<typeof chain>): Promise<void> {
    if (options.finalize === false) return;
    const latest = await c.publicClient.getBlock();
    // Chain time moves only with blocks, and a devnet may run ahead of this clock: estimate it.
    const now = Math.max(Number(latest.timestamp), Math.floor(Date.now() / 1000) + chainAheadSec);
    for (const [requestId, at] of pendingFinalize) {
      if (now < at) continue;
      const state = await c.publicClient.readContract({
        address: oracleAddress as `0x${string}`,
        abi: inferenceOracleAbi,
        functionName: "getRequest",
        args: [requestId],
      });
      if (state.status === STATUS.challenged) continue; // the resolver decides; refund or finalize later
      if (state.status !== STATUS.answered && state.status !== STATUS.cleared) {
        pendingFinalize.delete(requestId);
        continue;
      }
      try {
        const call = {
          address: oracleAddress as `0x${string}`,
          abi: inferenceOracleAbi,
          functionName: "finalize",
          args: [requestId],
          // The callback's full limit plus the payouts: estimation alone may leave the callback short.
          gas: BigInt(state.callbackGasLimit) * 2n + 300_000n,
        } as const;
        try {
          await c.publicClient.simulateContract({ ...call, account: options.account, blockTag: "pending" });
        } catch (cause) {
          throw toChainError(`Finalizing oracle request ${requestId}`, cause);
        }
        const tx = await c.transact(`Finalizing oracle request ${requestId}`, () => c.walletClient.writeContract(call));
        pendingFinalize.delete(requestId);
        const logs = tx.logs.filter((l) => l.address.toLowerCase() === oracleAddress?.toLowerCase());
        const callbackTopic = keccak256(stringToHex("OracleCallback(uint256,address,bool)"));
        const callback = logs.find((l) => l.topics[0] === callbackTopic);
        emit({
          event: "finalized",
          requestId,
          txHash: tx.transactionHash,
          callback: callback ? BigInt(callback.data) === 1n : null,
        });
      } catch (error) {
        // Too early by chain time (the next block is stamped later): retry on the next poll.
        if (codeOf(error) !== "oracle_challenge_window_open") options.onError?.(error);
      }
    }
  }

  async function poll(): Promise<void> {
    const c = chain;
    if (!c || stopped) return;
    const latest = await c.publicClient.getBlockNumber({ cacheTime: 0 });
    if (latest >= cursor) {
      const events = await c.publicClient.getContractEvents({
        address: oracleAddress as `0x${string}`,
        abi: inferenceOracleAbi,
        eventName: "OracleRequested",
        fromBlock: cursor,
        toBlock: latest,
      });
      cursor = latest + 1n;
      for (const log of events) {
        const parsed = requestSchema.safeParse(log.args);
        if (!parsed.success) continue;
        seenAt.set(parsed.data.requestId, Date.now());
        try {
          await handle(c, parsed.data);
        } catch (error) {
          emit({ event: "skipped", requestId: parsed.data.requestId, code: codeOf(error) });
          options.onError?.(error);
        }
        if (stopped) return;
      }
    }
    await finalizeDue(c);
  }

  function schedule(): void {
    if (stopped) return;
    timer = setTimeout(() => {
      running = poll()
        .catch((error) => options.onError?.(error))
        .finally(schedule);
    }, pollMs);
  }

  return {
    /** Connects, finds the agent's offers for the engines, approves the bonds and starts following requests. */
    async start(): Promise<{ address: `0x${string}`; models: { modelId: bigint; offerId: bigint }[] }> {
      chain = await connectChain({
        account: options.account,
        ...(options.provider ? { provider: options.provider } : {}),
        ...(options.rpcUrl ? { rpcUrl: options.rpcUrl } : {}),
        expectedChainId: options.deployment.chainId,
      });
      const c = chain;
      await resolveOffers(c);
      challengeWindow = await c.publicClient.readContract({
        address: oracleAddress,
        abi: inferenceOracleAbi,
        functionName: "challengeWindow",
      });
      const allowance = await c.publicClient.readContract({
        address: options.deployment.token.address,
        abi: testUSDAbi,
        functionName: "allowance",
        args: [options.account.address, oracleAddress],
      });
      if (allowance < maxUint256 / 2n) {
        await c.transact("Approving the oracle's answer bonds", () =>
          c.walletClient.writeContract({
            address: options.deployment.token.address,
            abi: testUSDAbi,
            functionName: "approve",
            args: [oracleAddress, maxUint256],
          }),
        );
      }
      // From the oracle's deployment on: requests posted while the node was down are still answered
      // if they are open and before their deadline.
      cursor = BigInt(options.deployment.contracts.InferenceOracle?.block ?? 0);
      stopped = false;
      schedule();
      return {
        address: options.account.address,
        models: [...served].map(([modelId, s]) => ({ modelId, offerId: s.offerId })),
      };
    },
    /** Stops following requests; waits for the request being answered to finish. */
    async stop(): Promise<void> {
      stopped = true;
      if (timer) clearTimeout(timer);
      await running;
    },
  };
}

export type OracleNode = ReturnType<typeof createOracleNode>;
