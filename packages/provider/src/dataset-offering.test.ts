import assert from "node:assert/strict";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { deploy } from "@verity/chain";
import { createTestChain, type TestChain } from "@verity/chain/testing";
import { datasetRegistryAbi, paymentChannelsAbi } from "@verity/contracts";
import {
  type Deployment,
  hashParams,
  type ReceiptJson,
  type ReceiptParams,
  type RetrievalRecord,
  receiptFromJson,
} from "@verity/core";
import OpenAI from "openai";
import { parseEventLogs } from "viem";
import { privateKeyToAccount } from "viem/accounts";
import { checkTranscript } from "../../sdk/src/transcript-check.ts";
import { createVoucherFetch } from "../../sdk/src/voucher-fetch.ts";
import { checkRetrieval, corpusDigest, corpusOf, retrieve } from "./retrieval.ts";
import { retrievalFee } from "./retrieval-fee.ts";
import { claimTestChannel, openTestChannel, startTestProvider } from "./testing.ts";

const CORPUS = [
  { text: "The lighthouse of Varnholm is painted green and white and was built in 1871." },
  { text: "Varnholm harbour freezes every February, so the ferry stops for four weeks." },
  { text: "Sourdough needs flour, water, salt and a starter kept at room temperature." },
  { text: "The Varnholm choir sings on the quay each midsummer evening." },
]
  .map((line) => JSON.stringify(line))
  .join("\n");
const PRICE_PER_USE = 100n;

type PaidBody = {
  charge: string;
  charged: string;
  receipt: { paramsHash: string; promptTokens: number; completionTokens: number };
  transcript: { promptTokenIds: number[]; sampling: ReceiptParams & { retrieval?: RetrievalRecord } };
};
const ROYALTY_BPS = 2_000;
const SHARE_BPS = 5_000;

async function registerDataset(t: TestChain, deployment: Deployment, bytes: Buffer): Promise<bigint> {
  const registry = deployment.contracts.DatasetRegistry?.address;
  assert.ok(registry);
  const hash = await t.wallet("client-5").writeContract({
    address: registry,
    abi: datasetRegistryAbi,
    functionName: "register",
    args: [corpusDigest(bytes), 0, PRICE_PER_USE, "https://example.org/cc-by", "file:corpus.jsonl"],
  });
  const receipt = await t.publicClient.waitForTransactionReceipt({ hash });
  const [registered] = parseEventLogs({ abi: datasetRegistryAbi, logs: receipt.logs, eventName: "DatasetRegistered" });
  assert.ok(registered);
  return registered.args.datasetId;
}

function corpusFile(text: string): string {
  const file = join(mkdtempSync(join(tmpdir(), "verity-corpus-")), "corpus.jsonl");
  writeFileSync(file, text);
  return file;
}

test("model + dataset: the openai client gets an answer over the retrieved chunks, the receipt commits to the retrieval, the charge carries the fee and a claim pays the dataset at least its price per use", async () => {
  const t = await createTestChain();
  const deployment = await deploy({ provider: t.edr.provider, deployer: t.account("deployer").privateKey });
  const file = corpusFile(CORPUS);
  const datasetId = await registerDataset(t, deployment, Buffer.from(CORPUS));
  const p = await startTestProvider({
    t,
    deployment,
    dataset: { datasetId, file, royaltyBps: ROYALTY_BPS, shareBps: SHARE_BPS },
  });
  try {
    const offered = p.info.models[0];
    assert.ok(offered);
    assert.equal(offered.name, `verity-tiny+data-${datasetId}`);
    const fee = retrievalFee({
      pricePerUse: PRICE_PER_USE,
      royaltyBps: BigInt(ROYALTY_BPS),
      shareBps: BigInt(SHARE_BPS),
    });
    assert.equal(fee, 1_020n, "ceil((100 + 2) × 10⁸ / (2,000 × 5,000))");
    const channelId = await openTestChannel({
      t,
      deployment,
      payer: "client-6",
      agentId: p.info.agentId,
      modelId: offered.modelId,
      amount: 1_000_000n,
    });
    const payer = createVoucherFetch({
      channelId,
      authorizer: privateKeyToAccount(t.account("client-6").privateKey),
      chainId: deployment.chainId,
      paymentChannels: deployment.contracts.PaymentChannels.address,
      headroom: 2_000n,
    });
    const openai = new OpenAI({ baseURL: `${p.url}/v1`, apiKey: "x", fetch: payer.fetch, maxRetries: 0 });
    const corpus = corpusOf({ datasetId, digest: corpusDigest(Buffer.from(CORPUS)), text: CORPUS });
    const questions = ["What colour is the Varnholm lighthouse?", "When does the harbour freeze?"];
    let total = 0n;
    for (const question of questions) {
      const answer: OpenAI.Chat.Completions.ChatCompletion = await openai.chat.completions.create({
        model: offered.name,
        messages: [{ role: "user", content: question }],
        max_tokens: 8,
        temperature: 0,
        seed: 3,
      });
      assert.ok(answer.choices[0]?.message.content !== undefined);
      const verity: PaidBody = (answer as unknown as { verity: PaidBody }).verity;
      // The receipt's params commit to the retrieval a validator re-runs from the corpus.
      const expected = retrieve({ corpus, query: question });
      assert.ok(expected.chunks.length > 0);
      assert.deepEqual(verity.transcript.sampling.retrieval, expected.record);
      assert.equal(verity.receipt.paramsHash, hashParams(verity.transcript.sampling));
      // The SDK's transcript check (what a Verity client runs on every answer) accepts it.
      const checked = checkTranscript({
        transcript: verity.transcript,
        receipt: receiptFromJson((answer as unknown as { verity: { receipt: ReceiptJson } }).verity.receipt),
      });
      assert.ok(checked.ok, checked.ok ? "" : checked.detail);
      assert.deepEqual(
        checkRetrieval({ record: verity.transcript.sampling.retrieval as RetrievalRecord, query: question, corpus }),
        { outcome: "match" },
      );
      // The engine answered over the retrieved chunks: they are in the prompt the receipt hashes.
      const prompt = p.engines[0]?.detokenize(verity.transcript.promptTokenIds) ?? "";
      for (const chunk of expected.chunks) assert.ok(prompt.includes(chunk.text), `the prompt holds chunk ${chunk.id}`);
      assert.ok(prompt.includes(question));
      // The charge is the tokens' price plus the retrieval fee.
      const tokens = BigInt(verity.receipt.promptTokens) * 1n + BigInt(verity.receipt.completionTokens) * 2n;
      assert.equal(BigInt(verity.charge), tokens + fee);
      total = BigInt(verity.charged);
    }
    // A streamed request retrieves and pays the fee as well.
    const stream = await openai.chat.completions.create({
      model: offered.name,
      messages: [{ role: "user", content: "Who sings on the quay?" }],
      max_tokens: 8,
      temperature: 0,
      stream: true,
    });
    for await (const _ of stream) {
      // read to the end: the trailing chunk tells voucher-fetch the new charged total
    }
    assert.ok(payer.charged - total > fee, "the streamed request's charge carries the fee");
    total = payer.charged;
    const requests = BigInt(questions.length + 1);
    const owner = t.account("client-5").address;
    const creditOf = () =>
      t.publicClient.readContract({
        address: deployment.contracts.PaymentChannels.address,
        abi: paymentChannelsAbi,
        functionName: "creditOf",
        args: [owner],
      });
    const before = await creditOf();
    await claimTestChannel({ t, deployment, payer: "client-6", claimer: "provider-1", channelId, amount: total });
    const paid = (await creditOf()) - before;
    assert.ok(paid >= PRICE_PER_USE * requests, `the dataset got ${paid}, at least ${PRICE_PER_USE} per request`);
    // Exactly the chain's split of the claimed total: floor(floor(total × 2,000 / 10⁴) × 5,000 / 10⁴).
    assert.equal(paid, (((total * 2_000n) / 10_000n) * 5_000n) / 10_000n);
  } finally {
    await p.close();
    await t.close();
  }
});

test("model + dataset: a corpus whose digest differs from the registered dataset is refused at start", async () => {
  const t = await createTestChain();
  const deployment = await deploy({ provider: t.edr.provider, deployer: t.account("deployer").privateKey });
  const datasetId = await registerDataset(t, deployment, Buffer.from(CORPUS));
  const altered = corpusFile(CORPUS.replace("green and white", "red and white"));
  try {
    await assert.rejects(
      startTestProvider({
        t,
        deployment,
        dataset: { datasetId, file: altered, royaltyBps: ROYALTY_BPS, shareBps: SHARE_BPS },
      }),
      (error: unknown) => (error as { code?: string }).code === "dataset_digest_mismatch",
    );
  } finally {
    await t.close();
  }
});

test("model + dataset: a composite model that does not credit the dataset is refused at start", async () => {
  const t = await createTestChain();
  const deployment = await deploy({ provider: t.edr.provider, deployer: t.account("deployer").privateKey });
  const datasetId = await registerDataset(t, deployment, Buffer.from(CORPUS));
  try {
    await assert.rejects(
      startTestProvider({
        t,
        deployment,
        dataset: { datasetId, file: corpusFile(CORPUS), royaltyBps: ROYALTY_BPS, shareBps: 0 },
      }),
      (error: unknown) => (error as { code?: string }).code === "dataset_not_credited",
    );
  } finally {
    await t.close();
  }
});
