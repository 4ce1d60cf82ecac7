/**
 * Test helpers: real validators on the in-process test chain, and audit samples signed with a
 * provider's receipt key (what a provider that served `engine` while claiming `modelId` would sign).
 */
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { TestChain } from "@verity/chain/testing";
import { testUSDAbi } from "@verity/contracts";
import {
  type Deployment,
  hashParams,
  hashTokens,
  type ReceiptParams,
  receiptDomain,
  receiptToJson,
  receiptTypes,
} from "@verity/core";
import { createTestEngine, type Engine } from "@verity/engine";
import { keccak256, toHex } from "viem";
import { privateKeyToAccount } from "viem/accounts";
import type { CanaryOptions } from "./canary.ts";
import type { ValidatorEvent } from "./challenger.ts";
import type { AuditSampleInput } from "./intake.ts";
import { createValidator, type Validator, type ValidatorInfo } from "./validator.ts";

export type TestValidator = {
  validator: Validator;
  info: ValidatorInfo;
  engines: Engine[];
  dataDir: string;
  events: ValidatorEvent[];
  errors: unknown[];
  /** Stops the validator; `keepEngines` leaves its engines open for a restart. */
  close(options?: { keepEngines?: boolean }): Promise<void>;
};

/** Starts a validator as devnet account `account` (funded with TestUSD for its bond and challenges). */
export async function startTestValidator(args: {
  t: TestChain;
  deployment: Deployment;
  account: string;
  models?: string[];
  engines?: Engine[];
  dataDir?: string;
  pollMs?: number;
  /** Canary prompts (paid from the validator's account, which is funded with TestUSD here). */
  canary?: CanaryOptions;
}): Promise<TestValidator> {
  const { t, deployment } = args;
  const mint = await t.wallet("deployer").writeContract({
    address: deployment.token.address,
    abi: testUSDAbi,
    functionName: "mint",
    args: [t.account(args.account).address, 1_000_000_000n],
  });
  await t.publicClient.waitForTransactionReceipt({ hash: mint });
  const engines =
    args.engines ?? (await Promise.all((args.models ?? ["verity-tiny"]).map((name) => createTestEngine({ name }))));
  const dataDir = args.dataDir ?? mkdtempSync(join(tmpdir(), "verity-validator-"));
  const events: ValidatorEvent[] = [];
  const errors: unknown[] = [];
  const validator = createValidator({
    deployment,
    provider: t.edr.provider,
    account: privateKeyToAccount(t.account(args.account).privateKey),
    models: engines,
    dataDir,
    pollMs: args.pollMs ?? 100,
    // The test chain mines only on transactions: the challenger mines its draw's seed block.
    advanceChain: async () => {
      await t.edr.provider.request({ method: "evm_mine" } as never);
    },
    ...(args.canary ? { canary: args.canary } : {}),
    onEvent: (event) => events.push(event),
    onError: (error) => errors.push(error),
  });
  const info = await validator.start();
  return {
    validator,
    info,
    engines,
    dataDir,
    events,
    errors,
    async close(options = {}) {
      await validator.stop();
      if (!options.keepEngines) for (const engine of engines) await engine.close();
    },
  };
}

/**
 * Generates an answer with `engine` and builds the audit sample a client would send, with a receipt
 * signed by `providerKey` claiming `modelId` (pass the claimed model's engine for an honest sample,
 * another for a substitution).
 */
export async function signedTestSample(args: {
  engine: Engine;
  providerKey: `0x${string}`;
  deployment: Deployment;
  agentId: bigint;
  channelId: `0x${string}`;
  modelId: bigint;
  model: string;
  content: string;
  sampling: ReceiptParams;
  charge: bigint;
  cumulativeCharged?: bigint;
  timestamp?: bigint;
  /** The client's reveal (audit secret, voucher amount, policy) for a receipt with seed fields. */
  reveal?: AuditSampleInput["reveal"];
}): Promise<AuditSampleInput> {
  const { deployment, sampling } = args;
  const messages = [{ role: "user" as const, content: args.content }];
  // The engine samples with the seed key; the audit commitment is only signed into the params.
  const { auditCommit: _commit, topK: _topK, ...engineSampling } = sampling;
  const result = await args.engine.generate({
    prompt: { messages },
    sampling: { ...engineSampling, stop: [...sampling.stop] },
  });
  const paymentChannels = deployment.contracts.PaymentChannels.address;
  const receipt = {
    requestId: keccak256(toHex(`${args.content}-${Date.now()}-${Math.random()}`)),
    channelId: args.channelId,
    modelId: args.modelId,
    promptHash: hashTokens(result.promptTokens),
    outputHash: hashTokens(result.outputTokens),
    paramsHash: hashParams(sampling),
    promptTokens: result.promptTokens.length,
    completionTokens: result.outputTokens.length,
    charge: args.charge,
    cumulativeCharged: args.cumulativeCharged ?? args.charge,
    timestamp: args.timestamp ?? BigInt(Math.floor(Date.now() / 1000)),
  };
  const account = privateKeyToAccount(args.providerKey);
  const signature = await account.signTypedData({
    domain: receiptDomain({ chainId: deployment.chainId, verifyingContract: paymentChannels }),
    types: receiptTypes,
    primaryType: "Receipt",
    message: receipt,
  });
  return {
    version: 1,
    chainId: deployment.chainId,
    paymentChannels,
    agentId: args.agentId.toString(),
    channelId: args.channelId,
    modelId: args.modelId.toString(),
    model: args.model,
    kind: "chat",
    request: {
      model: args.model,
      messages,
      temperature: sampling.temperature,
      top_p: sampling.topP,
      seed: sampling.seed,
      max_tokens: sampling.maxTokens,
    },
    output: result.text,
    promptTokenIds: result.promptTokens,
    outputTokenIds: result.outputTokens,
    sampling: { ...sampling, stop: [...sampling.stop] },
    receipt: { receipt: receiptToJson(receipt), signature, signer: account.address },
    ...(args.reveal ? { reveal: args.reveal } : {}),
  };
}

/** Polls `check` every `everyMs` until it returns a value (not undefined/false); fails after `timeoutMs`. */
export async function eventually<T>(
  what: string,
  check: () => Promise<T | undefined | false> | T | undefined | false,
  options: { timeoutMs?: number; everyMs?: number } = {},
): Promise<T> {
  const deadline = Date.now() + (options.timeoutMs ?? 30_000);
  for (;;) {
    const value = await check();
    if (value !== undefined && value !== false) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, options.everyMs ?? 50));
  }
}
