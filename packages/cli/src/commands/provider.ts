import { resolve } from "node:path";
import { createNativeAccount, readDeployment } from "@verity/chain";
import { ConfigError } from "@verity/core";
import { loadModelSpec } from "@verity/engine";
import { createProvider, createProviderStore, validateSubstituteRate } from "@verity/provider";
import { type Command, Option } from "commander";
import { formatUnits } from "viem";
import { keyFileOption, keystoreOption, rawKeyOption } from "../chain-options.ts";
import { parseAmount, parseDuration, parseInteger } from "../parse-flags.ts";
import { createProgress } from "../progress.ts";
import { readSigningKey } from "../read-key.ts";
import { runCommand } from "../run-command.ts";
import { loadUpstreamModel, readUpstreamKey, type UpstreamModel } from "../upstream-model.ts";
import { registerProviderWithdraw } from "./provider-withdraw.ts";

type StartFlags = {
  model: string[];
  priceIn: string;
  priceOut: string;
  maxOutputTokens: string;
  stake: string;
  endpoint?: string;
  host: string;
  port: string;
  rpc: string;
  deployment: string;
  key?: string;
  keyFile?: string;
  keystore?: string;
  upstream?: string;
  upstreamKey?: string;
  upstreamKeyFile?: string;
  dataDir: string;
  operatorKey?: string;
  dataCollection?: string;
  claimMin: string;
  claimMaxAge: string;
  registerModel?: boolean;
  substitute?: string;
  substituteRate?: string;
  requireSeed?: boolean;
  dataset?: string;
  datasetFile?: string;
  datasetTopK?: string;
  json?: boolean;
};

/** `--dataset` and `--dataset-file`: serve the one model as "model + dataset" (both or neither). */
function parseDataset(flags: StartFlags, models: number): { datasetId: bigint; file: string; k: number } | undefined {
  if (flags.dataset === undefined && flags.datasetFile === undefined) return undefined;
  if (flags.dataset === undefined || flags.datasetFile === undefined) {
    throw new ConfigError("--dataset and --dataset-file go together", {
      code: "invalid_parameter",
      hint: "Give the dataset id and the local corpus file registered under it",
    });
  }
  if (models !== 1) {
    throw new ConfigError(`--dataset serves one model, got ${models}`, {
      code: "invalid_parameter",
      hint: "Run one provider per model + dataset offering",
    });
  }
  return {
    datasetId: BigInt(parseInteger("--dataset", flags.dataset, 1)),
    file: resolve(flags.datasetFile),
    k: parseInteger("--dataset-top-k", flags.datasetTopK ?? "3", 1),
  };
}

/** `--substitute-rate`: a fraction of requests in [0, 1] (default 1 with `--substitute`). */
function parseSubstituteRate(flags: StartFlags): number | undefined {
  if (flags.substitute === undefined) {
    if (flags.substituteRate !== undefined) {
      throw new ConfigError("--substitute-rate needs --substitute", {
        code: "invalid_parameter",
        hint: "Name the model to serve instead, e.g. --substitute test:verity-tiny-q4",
      });
    }
    return undefined;
  }
  const text = (flags.substituteRate ?? "1").trim();
  const rate = /^\d*\.?\d+$/.test(text) ? Number(text) : Number.NaN;
  if (!(rate >= 0 && rate <= 1)) {
    throw new ConfigError(
      `--substitute-rate must be a number from 0 to 1, got ${JSON.stringify(flags.substituteRate)}`,
      {
        code: "invalid_parameter",
        hint: "For example --substitute-rate 0.25",
      },
    );
  }
  return validateSubstituteRate(rate);
}

/** `--upstream` mode: exactly one manifest, the key from a file or the environment, every check before start. */
async function connectUpstream(flags: StartFlags): Promise<UpstreamModel> {
  const apiKey = readUpstreamKey({ key: flags.upstreamKey, keyFile: flags.upstreamKeyFile });
  if (flags.upstream === undefined) {
    throw new ConfigError("--upstream-key-file needs --upstream", {
      code: "invalid_parameter",
      hint: "Add --upstream http://host:port/v1 (the engine's OpenAI-compatible URL)",
    });
  }
  if (flags.model.length !== 1) {
    throw new ConfigError(`--upstream serves one model, got ${flags.model.length} --model flags`, {
      code: "invalid_parameter",
      hint: "Pass one --model <manifest.json> per upstream provider",
    });
  }
  if (flags.substitute !== undefined) {
    throw new ConfigError("--substitute is not available with --upstream", {
      code: "invalid_parameter",
      hint: "Drop --substitute",
    });
  }
  return loadUpstreamModel({
    upstream: flags.upstream,
    manifestPath: flags.model[0] as string,
    ...(apiKey === undefined ? {} : { apiKey }),
  });
}

export function registerProvider(program: Command): void {
  const provider = program
    .command("provider")
    .description("Serve models for pay: register, stake, publish offers, serve, claim");
  provider
    .command("start")
    .description(
      "Register the provider (once), stake, publish offers, serve the OpenAI-compatible API and claim earnings",
    )
    .requiredOption(
      "--model <spec>",
      "GGUF path, hf:<user>/<repo>, or test:verity-tiny (repeatable); with --upstream: the model manifest JSON",
      (v: string, a: string[]) => [...a, v],
      [],
    )
    .option("--price-in <amount>", "price per 1M prompt tokens, in the payment token", "1")
    .option("--price-out <amount>", "price per 1M output tokens, in the payment token", "2")
    .option("--max-output-tokens <n>", "largest max_tokens an offer accepts", "512")
    .option("--stake <amount>", "bonded stake to hold, in the payment token", "500")
    .option("--endpoint <url>", "public URL published in the offer (default: the listening URL)")
    .option("--host <host>", "interface to listen on", "127.0.0.1")
    .option("--port <port>", "port to listen on (0 = any free port)", "8600")
    .option("--rpc <url>", "JSON-RPC URL of the chain", process.env.VERITY_RPC ?? "http://127.0.0.1:8545")
    .option("--deployment <file>", "deployment file", process.env.VERITY_DEPLOYMENT ?? ".verity/devnet/deployment.json")
    .addOption(keyFileOption("provider key"))
    .addOption(keystoreOption("provider key"))
    .addOption(rawKeyOption())
    .option(
      "--upstream <url>",
      "serve --model from this OpenAI-compatible engine (vLLM, Ollama, …), e.g. http://127.0.0.1:8000/v1",
    )
    .option("--upstream-key-file <file>", "file holding the upstream's API key (or VERITY_UPSTREAM_KEY)")
    .addOption(
      new Option("--upstream-key <key>", "refused: a key on the command line is visible to every user").hideHelp(),
    )
    .option("--data-dir <dir>", "folder for the provider's stores", ".verity/provider")
    .option("--operator-key <key>", "bearer key served without payment (your own traffic)")
    .option("--claim-min <amount>", "claim once this much is unclaimed", "1")
    .option("--claim-max-age <duration>", "…or once the oldest charge is this old", "10m")
    .option("--register-model", "register the model (royalty 0) when nobody has yet")
    .option(
      "--substitute <model-spec>",
      "devnets and simulations only: serve this model instead on a fraction of requests while claiming the offered one — it will be slashed",
    )
    .option("--substitute-rate <0..1>", "fraction of paid requests --substitute serves (default 1)")
    .option(
      "--require-seed",
      "refuse channel-paid requests without a seed key (seed-synced sampling); ignored with --upstream",
    )
    .addOption(
      new Option(
        "--data-collection <policy>",
        "what you promise about request data, announced in /health: deny = prompts and answers kept only as audit transcripts (gateways route provider.data_collection: deny only to these)",
      )
        .choices(["allow", "deny"])
        .default("allow"),
    )
    .option(
      "--dataset <id>",
      "serve the model + this DatasetRegistry dataset as one offering (model <name>+data-<id>, under the composite model id that credits it)",
    )
    .option(
      "--dataset-file <path>",
      "the dataset's local corpus (JSONL with a text field, or paragraphs); must match its digest",
    )
    .option("--dataset-top-k <n>", "chunks retrieved per request (default 3)")
    .option("--json", "print JSON lines (ready, claim, error) on stdout")
    .addHelpText(
      "after",
      "\nExamples:\n  $ VERITY_KEY=0x… verity provider start --model test:verity-tiny --price-in 0.5 --price-out 1.5 --port 8601\n" +
        "  $ verity provider start --model ./Qwen2.5-0.5B-Instruct-Q8_0.gguf --register-model --endpoint https://gpu1.example.com\n" +
        "  $ verity provider start --upstream http://127.0.0.1:8000/v1 --upstream-key-file ./vllm.key --model ./qwen-bf16.manifest.json",
    )
    .action(async (flags: StartFlags) => {
      const json = flags.json === true;
      await runCommand(json, async () => {
        const progress = createProgress();
        const substituteRate = parseSubstituteRate(flags);
        const engines = [];
        // Upstream checks run first: a bad --upstream or --model fails before anything is read or written.
        let upstream: UpstreamModel | undefined;
        if (flags.upstream !== undefined || flags.upstreamKey !== undefined || flags.upstreamKeyFile !== undefined) {
          upstream = await progress.step(`connect to upstream ${flags.upstream ?? ""}`.trim(), () =>
            connectUpstream(flags),
          );
          progress.info(
            `  ${upstream.manifest.name} (${upstream.manifest.quantization}, ${upstream.manifest.engine.name} ${upstream.manifest.engine.version}) manifest ${upstream.manifest.manifestHash}`,
          );
          engines.push(upstream.engine);
        }
        const deployment = readDeployment(resolve(flags.deployment));
        const decimals = deployment.token.decimals;
        for (const spec of upstream ? [] : flags.model) {
          engines.push(
            await progress.step(`load model ${spec}`, () =>
              loadModelSpec({ spec, onProgress: (l) => progress.info(l) }),
            ),
          );
        }
        const substitute =
          flags.substitute === undefined || substituteRate === undefined
            ? undefined
            : {
                engine: await progress.step(`load substitute ${flags.substitute}`, () =>
                  loadModelSpec({ spec: flags.substitute as string, onProgress: (l) => progress.info(l) }),
                ),
                rate: substituteRate,
              };
        if (substitute) {
          progress.info(
            `! devnet/simulation mode: ${substitute.engine.name} serves ${Math.round(substitute.rate * 100)}% of paid requests under the offered model — this is slashable cheating`,
          );
        }
        const dataset = parseDataset(flags, engines.length);
        const node = createProvider({
          deployment,
          rpcUrl: flags.rpc,
          account: createNativeAccount(await readSigningKey(flags)),
          models: engines.map((engine) => ({
            engine,
            inputPricePerMTok: parseAmount("--price-in", flags.priceIn, decimals),
            outputPricePerMTok: parseAmount("--price-out", flags.priceOut, decimals),
            maxOutputTokens: parseInteger("--max-output-tokens", flags.maxOutputTokens, 1),
            registerModelIfMissing: flags.registerModel === true,
            ...(flags.requireSeed ? { requireSeed: true } : {}),
            ...(dataset ? { dataset } : {}),
            ...(substitute ? { substitute } : {}),
            ...(upstream
              ? { manifest: upstream.manifest, upstream: { probe: () => (upstream as UpstreamModel).engine.probe() } }
              : {}),
          })),
          stake: parseAmount("--stake", flags.stake, decimals),
          host: flags.host,
          port: parseInteger("--port", flags.port),
          ...(flags.endpoint ? { publicUrl: flags.endpoint } : {}),
          dataDir: resolve(flags.dataDir),
          dataCollection: flags.dataCollection === "deny" ? "deny" : "allow",
          ...(flags.operatorKey ? { operatorKey: flags.operatorKey } : {}),
          claim: {
            minValue: parseAmount("--claim-min", flags.claimMin, decimals),
            maxAgeMs: parseDuration("--claim-max-age", flags.claimMaxAge),
          },
          onStep: (s) => progress.info(`  ${s}`),
          onClaim: (r) => {
            const line = { event: "claim", txHash: r.txHash, channels: r.channels, amount: r.amount.toString() };
            if (json) process.stdout.write(`${JSON.stringify(line)}\n`);
            else
              progress.info(
                `claimed ${formatUnits(r.amount, decimals)} ${deployment.token.symbol} from ${r.channels} channel(s) in ${r.txHash}`,
              );
          },
          onError: (e) => progress.info(`! ${(e as Error).message ?? e}`),
          onUpstream: (e) => {
            const line = { event: e.up ? "upstream_up" : "upstream_down", model: e.model, reason: e.reason };
            if (json) process.stdout.write(`${JSON.stringify(line)}\n`);
            else
              progress.info(
                e.up
                  ? `upstream of ${e.model} is back`
                  : `! upstream of ${e.model} is down (${e.reason}): refusing paid requests`,
              );
          },
        });
        let stopping = false;
        const shutdown = async (signal: string) => {
          if (stopping) return;
          stopping = true;
          progress.info(`${signal}: finishing in-flight requests and making a final claim…`);
          await node.stop();
          process.exit(0);
        };
        process.on("SIGINT", () => void shutdown("SIGINT"));
        process.on("SIGTERM", () => void shutdown("SIGTERM"));
        const info = await progress.step("go on-chain and serve", () => node.start());
        const ready = {
          event: "ready",
          url: info.url,
          agentId: info.agentId.toString(),
          address: info.address,
          models: info.models.map((m) => ({
            name: m.name,
            modelId: m.modelId.toString(),
            offerId: m.offerId.toString(),
            priceIn: m.inputPricePerMTok.toString(),
            priceOut: m.outputPricePerMTok.toString(),
          })),
        };
        if (json) process.stdout.write(`${JSON.stringify(ready)}\n`);
        else
          progress.info(
            `provider agent ${info.agentId} serving ${info.models.map((m) => m.name).join(", ")} at ${info.url}/v1`,
          );
        await new Promise(() => {});
      });
    });

  registerProviderWithdraw(provider);

  provider
    .command("status")
    .description("Show a provider's requests, earnings and claims from its data dir")
    .option("--data-dir <dir>", "the provider's data dir", ".verity/provider")
    .option("--json", "print one JSON object")
    .addHelpText("after", "\nExample:\n  $ verity provider status --data-dir .verity/provider")
    .action(async (flags: { dataDir: string; json?: boolean }) => {
      await runCommand(flags.json === true, async () => {
        const store = createProviderStore({ path: resolve(flags.dataDir, "provider.sqlite") });
        const totals = store.totals();
        const open = store.openClaims();
        store.close();
        const status = {
          requests: totals.requests,
          channels: totals.channels,
          charged: totals.charged.toString(),
          claimed: totals.claimed.toString(),
          unclaimed: (totals.charged - totals.claimed).toString(),
          pendingClaims: open.length,
        };
        if (flags.json) process.stdout.write(`${JSON.stringify(status)}\n`);
        else {
          process.stdout.write(
            `requests ${status.requests} on ${status.channels} channel(s)\ncharged ${formatUnits(totals.charged, 6)}  claimed ${formatUnits(totals.claimed, 6)}  unclaimed ${formatUnits(totals.charged - totals.claimed, 6)}\npending claims ${status.pendingClaims}\n`,
          );
        }
      });
    });
}
