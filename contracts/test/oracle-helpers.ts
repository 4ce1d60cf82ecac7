/**
 * Inference-oracle test helpers: a staked provider with an offer, a funded requester, receipts
 * signed in the oracle's receipt domain, and a callback probe contract (records, reverts, burns gas
 * or re-enters the oracle) compiled here with solc-js (a test fixture, not a project contract).
 */
import { createRequire } from "node:module";
import {
  type Abi,
  type Address,
  encodeAbiParameters,
  getContract,
  type Hex,
  keccak256,
  maxUint256,
  parseAbi,
  parseEventLogs,
  toHex,
  zeroAddress,
  zeroHash,
} from "viem";
import { privateKeyToAccount } from "viem/accounts";
import type { TestChain } from "../../packages/chain/src/testing.ts";
import { type Receipt, receiptDomain, receiptTypes } from "../../packages/core/src/receipt.ts";
import { inferenceOracleAbi, oracleMarketResolverAbi } from "../generated/index.ts";
import { type defaultFixtureParams, deployFixture, type Fixture, rewinder } from "./fixture.ts";
import { deployed } from "./helpers.ts";

/** Offer prices of the oracle scene: 0.1 per 1,000 prompt tokens, 1 base unit per output token. */
export const INPUT_PRICE = 100_000n;
export const OUTPUT_PRICE = 1_000_000n;
export const ANSWER = toHex("yes, it will");

const probeSource = `// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.28;
contract CallbackProbe {
    address public immutable oracle;
    uint8 public mode;
    bytes public reenterData;
    bool public reentered;
    uint256 public calls;
    uint256 public lastRequestId;
    bytes public lastAnswer;
    constructor(address oracle_) { oracle = oracle_; }
    function setMode(uint8 mode_, bytes calldata data) external { mode = mode_; reenterData = data; }
    function onAnswer(uint256 requestId, bytes calldata answer) external {
        if (mode == 1) revert("callback refuses");
        if (mode == 2) { uint256 i; while (true) { ++i; } }
        if (mode == 3) { (bool ok,) = oracle.call(reenterData); reentered = ok; }
        if (mode == 4) { assembly { return(0, 100000) } }
        calls += 1;
        lastRequestId = requestId;
        lastAnswer = answer;
    }
}`;

/** The probe's interface, typed for viem. */
const probeAbi = parseAbi([
  "function setMode(uint8 mode, bytes data)",
  "function onAnswer(uint256 requestId, bytes answer)",
  "function reentered() view returns (bool)",
  "function calls() view returns (uint256)",
  "function lastRequestId() view returns (uint256)",
  "function lastAnswer() view returns (bytes)",
]);

let probeArtifact: { abi: Abi; bytecode: Hex } | undefined;

function probe(): { abi: Abi; bytecode: Hex } {
  if (!probeArtifact) {
    const solc = createRequire(import.meta.url)("solc") as { compile(input: string): string };
    const output = JSON.parse(
      solc.compile(
        JSON.stringify({
          language: "Solidity",
          sources: { "CallbackProbe.sol": { content: probeSource } },
          settings: { evmVersion: "cancun", outputSelection: { "*": { "*": ["abi", "evm.bytecode.object"] } } },
        }),
      ),
    ) as { contracts: Record<string, Record<string, { abi: Abi; evm: { bytecode: { object: string } } }>> };
    const artifact = output.contracts["CallbackProbe.sol"]?.CallbackProbe;
    if (!artifact) throw new Error("CallbackProbe did not compile");
    probeArtifact = { abi: artifact.abi, bytecode: `0x${artifact.evm.bytecode.object}` };
  }
  return probeArtifact;
}

export type RequestOverrides = Partial<{
  modelId: bigint;
  offerId: bigint;
  prompt: Hex;
  promptHash: Hex;
  promptURI: string;
  maxTokens: number;
  temperatureMilli: number;
  topPMilli: number;
  seed: bigint;
  fee: bigint;
  callback: Address;
  callbackSelector: Hex;
  callbackGasLimit: number;
  deadline: bigint;
}>;

/** A deployment with provider-1 staked and offering a model of modelOwner (5% royalty) at the scene prices. */
export async function oracleScene(t: TestChain, overrides: Partial<typeof defaultFixtureParams> = {}) {
  const f: Fixture = await deployFixture(t, overrides);
  const oracleAddress = f.addresses.inferenceOracle;
  const agentId = await f.registerAgent("provider-1");
  const modelId = await f.registerModel("modelOwner", 500);
  await f.fund(["provider-1"], f.params.minStakePerOffer * 2n, f.addresses.staking);
  await f.mined(f.as("provider-1").staking.write.stake([agentId, f.params.minStakePerOffer]));
  await f.mined(
    f
      .as("provider-1")
      .staking.write.addOffer([agentId, modelId, INPUT_PRICE, OUTPUT_PRICE, 4096, "https://p1.example"]),
  );
  const offerId = 1n;
  for (const name of ["client-1", "client-2", "provider-1", "provider-2"]) {
    await f.mint(t.account(name).address, 1_000_000_000n);
    await f.approve(name, oracleAddress, maxUint256);
  }
  const probeAddress = await deployed(t, { from: "deployer", ...probe(), args: [oracleAddress] });

  const oracle = (from: string) =>
    getContract({
      address: oracleAddress,
      abi: inferenceOracleAbi,
      client: { public: f.publicClient, wallet: f.wallet(from) },
    });
  const market = (from: string) =>
    getContract({
      address: f.addresses.oracleMarketResolver,
      abi: oracleMarketResolverAbi,
      client: { public: f.publicClient, wallet: f.wallet(from) },
    });
  const callbackProbe = (from = "deployer") =>
    getContract({ address: probeAddress, abi: probeAbi, client: { public: f.publicClient, wallet: f.wallet(from) } });
  const selector = keccak256(toHex("onAnswer(uint256,bytes)")).slice(0, 10) as Hex;
  const [challengeWindow, resolveTimeout, answerBond, challengeBond] = await Promise.all([
    oracle("deployer").read.challengeWindow(),
    oracle("deployer").read.resolveTimeout(),
    oracle("deployer").read.answerBond(),
    oracle("deployer").read.challengeBond(),
  ]);

  /** Request parameters: a 16-token answer to an inline prompt, fee 100, callback to the probe. */
  async function params(o: RequestOverrides = {}) {
    const latest = (await f.publicClient.getBlock()).timestamp;
    return {
      modelId: o.modelId ?? modelId,
      offerId: o.offerId ?? offerId,
      prompt: o.prompt ?? toHex("Will it rain tomorrow? Answer yes or no."),
      promptHash: o.promptHash ?? zeroHash,
      promptURI: o.promptURI ?? "",
      maxTokens: o.maxTokens ?? 16,
      temperatureMilli: o.temperatureMilli ?? 0,
      topPMilli: o.topPMilli ?? 1000,
      seed: o.seed ?? 42n,
      fee: o.fee ?? 100n,
      callback: o.callback ?? probeAddress,
      callbackSelector: o.callbackSelector ?? selector,
      callbackGasLimit: o.callbackGasLimit ?? 200_000,
      deadline: o.deadline ?? latest + 3600n,
    };
  }

  /** Posts a request from `from`; returns its id and the mined receipt. */
  async function request(o: RequestOverrides = {}, from = "client-1") {
    const p = await params(o);
    const tx = await f.mined(oracle(from).write.request([p]));
    const [event] = parseEventLogs({ abi: inferenceOracleAbi, logs: tx.logs, eventName: "OracleRequested" });
    if (!event) throw new Error("no OracleRequested event");
    return { requestId: event.args.requestId, params: p, tx, promptHash: event.args.promptHash };
  }

  /** The receipt an honest provider signs for `answer` to `requestId` (from its request parameters). */
  function receiptFor(
    requestId: bigint,
    p: Awaited<ReturnType<typeof params>>,
    answer: Hex,
    o: Partial<Receipt> = {},
  ): Receipt {
    const promptHash = p.prompt === "0x" ? p.promptHash : keccak256(p.prompt);
    const paramsHash = keccak256(
      encodeAbiParameters(
        [{ type: "uint32" }, { type: "uint32" }, { type: "uint32" }, { type: "uint64" }],
        [p.maxTokens, p.temperatureMilli, p.topPMilli, p.seed],
      ),
    );
    return {
      requestId: toHex(requestId, { size: 32 }),
      channelId: zeroHash,
      modelId: p.modelId,
      promptHash,
      outputHash: keccak256(answer),
      paramsHash,
      promptTokens: 12,
      completionTokens: 4,
      charge: p.fee,
      cumulativeCharged: p.fee,
      timestamp: 1n,
      ...o,
    };
  }

  function sign(receipt: Receipt, signer = "provider-1"): Promise<Hex> {
    return privateKeyToAccount(t.account(signer).privateKey).signTypedData({
      domain: receiptDomain({ chainId: t.chain.id, verifyingContract: oracleAddress }),
      types: receiptTypes,
      primaryType: "Receipt",
      message: receipt,
    });
  }

  /** Answers `requestId` honestly as provider-1 (overridable); returns the mined receipt. */
  async function answer(
    requestId: bigint,
    p: Awaited<ReturnType<typeof params>>,
    o: { answer?: Hex; from?: string; signer?: string; receipt?: Partial<Receipt>; offerId?: bigint } = {},
  ) {
    const text = o.answer ?? ANSWER;
    const receipt = receiptFor(requestId, p, text, o.receipt);
    const signature = await sign(receipt, o.signer);
    return oracle(o.from ?? "provider-1").write.answer([requestId, o.offerId ?? offerId, text, receipt, signature]);
  }

  return {
    f,
    oracleAddress,
    agentId,
    modelId,
    offerId,
    oracle,
    market,
    callbackProbe,
    probeAddress,
    selector,
    challengeWindow,
    resolveTimeout,
    answerBond,
    challengeBond,
    params,
    request,
    receiptFor,
    sign,
    answer,
    reset: rewinder(t),
    zeroAddress,
  };
}

export type OracleScene = Awaited<ReturnType<typeof oracleScene>>;
