/**
 * Test and bench helper: a paid provider whose model an external OpenAI-compatible server runs
 * (`--upstream` mode), on a test chain, with the model registered from the manifest's digests.
 */
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { TestChain } from "@verity/chain/testing";
import type { Deployment } from "@verity/core";
import {
  type AnnouncedManifest,
  announceManifest,
  createOpenAIUpstreamEngine,
  manifestIdentity,
  type OpenAIUpstreamEngine,
} from "@verity/engine";
import { privateKeyToAccount } from "viem/accounts";
import { createProvider, type Provider, type ProviderInfo, type ProviderOptions } from "./provider.ts";
import { mintTestUSD, registerTestModel } from "./testing.ts";

export type UpstreamTestProvider = { provider: Provider; info: ProviderInfo; engine: OpenAIUpstreamEngine };

/** The manifest of what an engine server (openai-engine-server.ts) serves, read from its `/v1/models`. */
export async function manifestOfEngineServer(url: string, quantization = "f16"): Promise<AnnouncedManifest> {
  const listed = (await (await fetch(`${url}/v1/models`)).json()) as {
    data: { id: string; verity: { weightsHash: `0x${string}`; tokenizerHash: `0x${string}`; contextSize: number } }[];
  };
  const entry = listed.data[0];
  if (!entry) throw new Error(`${url} lists no model`);
  return announceManifest({
    name: entry.id,
    weightsDigest: entry.verity.weightsHash,
    tokenizerDigest: entry.verity.tokenizerHash,
    quantization,
    engine: { name: "verity-engine-server", version: "0.1.0" },
    contextLength: entry.verity.contextSize,
  });
}

export async function startUpstreamTestProvider(args: {
  t: TestChain;
  deployment: Deployment;
  account: string;
  /** The upstream's base URL (its root or `/v1`). */
  upstream: string;
  manifest: AnnouncedManifest;
  price: { inputPerMTok: bigint; outputPerMTok: bigint };
  probeIntervalMs?: number;
  onUsageMismatch?: (mismatch: unknown) => void;
  onUpstream?: ProviderOptions["onUpstream"];
}): Promise<UpstreamTestProvider> {
  const { t, deployment, manifest } = args;
  const engine = await createOpenAIUpstreamEngine({
    baseUrl: args.upstream,
    model: manifest.name,
    identity: manifestIdentity(manifest),
    contextSize: manifest.contextLength,
    ...(args.onUsageMismatch ? { onUsageMismatch: args.onUsageMismatch } : {}),
  });
  await registerTestModel(t, deployment, engine);
  await mintTestUSD(t, deployment, args.account, 1_000_000_000n);
  const provider = createProvider({
    deployment,
    provider: t.edr.provider,
    account: privateKeyToAccount(t.account(args.account).privateKey),
    models: [
      {
        engine,
        inputPricePerMTok: args.price.inputPerMTok,
        outputPricePerMTok: args.price.outputPerMTok,
        maxOutputTokens: 256,
        manifest,
        upstream: { probe: () => engine.probe({ timeoutMs: 1_000 }), intervalMs: args.probeIntervalMs ?? 200 },
      },
    ],
    stake: 500_000_000n,
    dataDir: mkdtempSync(join(tmpdir(), "verity-upstream-provider-")),
    indexerPollMs: 50,
    claim: { minValue: 10n ** 30n, maxAgeMs: 3_600_000 },
    ...(args.onUpstream ? { onUpstream: args.onUpstream } : {}),
  });
  return { provider, info: await provider.start(), engine };
}
