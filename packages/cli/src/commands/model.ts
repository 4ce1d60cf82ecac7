import { datasetRegistryAbi, modelRegistryAbi } from "@verity/contracts";
import { ConfigError } from "@verity/core";
import { compositeIdentity } from "@verity/provider";
import type { Command } from "commander";
import { parseEventLogs } from "viem";
import { type ChainFlags, openChainContext } from "../chain-context.ts";
import { addChainOptions } from "../chain-options.ts";
import { listModels, resolveModel } from "../models.ts";
import { parseInteger } from "../parse-flags.ts";
import { createProgress } from "../progress.ts";
import { runCommand } from "../run-command.ts";
import { formatTable } from "../table.ts";
import { identifyWeights } from "../weights-identity.ts";
import { datasetRegistryOf } from "./data.ts";
import { registerModelWithdrawRoyalties } from "./model-royalties.ts";

type CreditFlags = ChainFlags & { model: string; dataset: string; share: string; json?: boolean };

type RegisterFlags = ChainFlags & {
  name?: string;
  weights: string;
  royaltyBps: string;
  licence: string;
  dataset?: string;
  json?: boolean;
};

export function registerModel(program: Command): void {
  const model = program
    .command("model")
    .description("Model owners: register open-weight models (identity + royalty) and list the registry")
    .addHelpText(
      "after",
      "\nExamples:\n  $ verity model register --weights ./Qwen2.5-0.5B-Instruct-Q8_0.gguf --royalty-bps 300\n  $ verity model list --json",
    );
  registerCreditDataset(model);

  addChainOptions(
    model
      .command("register")
      .description("Compute a GGUF's identity (weights + tokenizer hashes) and register it in the ModelRegistry"),
    { key: "model owner's private key (receives the royalty)" },
  )
    .requiredOption("--weights <spec>", "GGUF path, hf:<user>/<repo>[:quant], or test:verity-tiny")
    .option("--name <name>", "name offers and clients use (default: the GGUF's general.name)")
    .option("--royalty-bps <bps>", "royalty on every settled payment for the model, basis points", "0")
    .option("--licence <uri>", "URI of the model's licence", "")
    .option(
      "--dataset <id>",
      'register the composite model + dataset offering (weights hash keccak("verity-rag" ‖ weights ‖ dataset digest)); then credit the dataset',
    )
    .option("--json", "print one JSON line with the model id")
    .addHelpText(
      "after",
      "\nExamples:\n  $ VERITY_KEY=0x… verity model register --weights test:verity-tiny --royalty-bps 500\n" +
        "  $ verity model register --keystore owner.json --weights ./model.gguf --name my-model --licence https://…/LICENSE",
    )
    .action(async (flags: RegisterFlags) => {
      const json = flags.json === true;
      await runCommand(json, async () => {
        const progress = createProgress({ quiet: json });
        const royaltyBps = parseInteger("--royalty-bps", flags.royaltyBps);
        if (royaltyBps > 10_000) {
          throw new ConfigError("--royalty-bps must be at most 10000 (100 %)", { code: "invalid_parameter" });
        }
        const { deployment, clients } = await openChainContext({ ...flags, needKey: true });
        const max = deployment.params.maxRoyaltyBps;
        if (royaltyBps > max) {
          throw new ConfigError(`--royalty-bps ${royaltyBps} is above this deployment's maximum of ${max}`, {
            code: "royalty_too_high",
            hint: `Pass --royalty-bps ${max} or less`,
          });
        }
        const base = await progress.step(`hash ${flags.weights}`, () =>
          identifyWeights({ spec: flags.weights, onProgress: (l) => progress.info(l) }),
        );
        const datasetId = flags.dataset === undefined ? undefined : BigInt(parseInteger("--dataset", flags.dataset, 1));
        const weights =
          datasetId === undefined
            ? base
            : {
                name: `${base.name}+data-${datasetId}`,
                identity: compositeIdentity({
                  base: base.identity,
                  digest: (
                    await clients.publicClient.readContract({
                      address: datasetRegistryOf(deployment),
                      abi: datasetRegistryAbi,
                      functionName: "getDataset",
                      args: [datasetId],
                    })
                  ).digest,
                }),
              };
        const name = flags.name ?? weights.name;
        const address = deployment.contracts.ModelRegistry.address;
        const existing = await clients.publicClient.readContract({
          address,
          abi: modelRegistryAbi,
          functionName: "modelIdOf",
          args: [weights.identity.weightsHash, weights.identity.tokenizerHash],
        });
        if (existing !== 0n) {
          throw new ConfigError(`These weights are already registered as model ${existing}`, {
            code: "model_already_registered",
            hint: "See `verity model list`; a model is registered once, by its owner",
            details: { modelId: existing.toString() },
          });
        }
        const receipt = await progress.step(`register ${name}`, () =>
          clients.transact(`Registering model ${name}`, () =>
            clients.walletClient.writeContract({
              address,
              abi: modelRegistryAbi,
              functionName: "registerModel",
              args: [weights.identity.weightsHash, weights.identity.tokenizerHash, royaltyBps, flags.licence, name],
              chain: clients.chain,
              account: clients.account,
            }),
          ),
        );
        const [event] = parseEventLogs({ abi: modelRegistryAbi, logs: receipt.logs, eventName: "ModelRegistered" });
        const line = {
          event: "registered",
          modelId: (event?.args.modelId ?? 0n).toString(),
          name,
          owner: clients.account.address,
          royaltyBps,
          weightsHash: weights.identity.weightsHash,
          tokenizerHash: weights.identity.tokenizerHash,
          txHash: receipt.transactionHash,
        };
        if (json) process.stdout.write(`${JSON.stringify(line)}\n`);
        else process.stdout.write(`model ${line.modelId} ${name} registered (royalty ${royaltyBps} bps)\n`);
      });
    });

  registerModelWithdrawRoyalties(model);

  addChainOptions(model.command("list").description("List the models registered in the ModelRegistry"), {})
    .option("--json", "print one JSON object with every model")
    .addHelpText(
      "after",
      "\nExamples:\n  $ verity model list\n  $ verity model list --rpc https://… --deployment base.json --json",
    )
    .action(async (flags: ChainFlags & { json?: boolean }) => {
      const json = flags.json === true;
      await runCommand(json, async () => {
        const { deployment, clients } = await openChainContext({ ...flags, needKey: false });
        const models = await listModels({ publicClient: clients.publicClient, deployment });
        if (json) {
          const out = models.map((m) => ({ ...m, modelId: m.modelId.toString() }));
          process.stdout.write(`${JSON.stringify({ event: "models", chainId: deployment.chainId, models: out })}\n`);
          return;
        }
        if (models.length === 0) {
          process.stdout.write("No models registered yet — register one with `verity model register`\n");
          return;
        }
        const rows = models.map((m) => [
          m.modelId.toString(),
          m.name,
          `${m.royaltyBps}`,
          m.owner,
          `${m.weightsHash.slice(0, 12)}…`,
        ]);
        process.stdout.write(
          `${formatTable({ columns: ["id", "name", "royalty bps", "owner", "weights"], rows, right: ["id", "royalty bps"] })}\n`,
        );
      });
    });
}

/** `verity model credit-dataset`: credit a dataset with a share of the model's royalty (add or raise only). */
function registerCreditDataset(model: Command): void {
  addChainOptions(
    model
      .command("credit-dataset")
      .description(
        "Credit a registered dataset with a share of the model's royalty, paid in every claim (add or raise only)",
      ),
    { key: "model owner's private key" },
  )
    .requiredOption("--model <id|name>", "the model (id or registered name)")
    .requiredOption("--dataset <id>", "the dataset id (see `verity data register`)")
    .requiredOption("--share <bps>", "the dataset's share of the model's royalty, basis points of the royalty")
    .option("--json", "print one JSON line with the credit")
    .addHelpText(
      "after",
      "\nExamples:\n  $ VERITY_KEY=0x… verity model credit-dataset --model verity-tiny --dataset 1 --share 2000\n" +
        "  $ verity model credit-dataset --keystore owner.json --model 3 --dataset 7 --share 500 --json",
    )
    .action(async (flags: CreditFlags) => {
      const json = flags.json === true;
      await runCommand(json, async () => {
        const share = parseInteger("--share", flags.share, 1);
        if (share > 10_000) {
          throw new ConfigError("--share must be at most 10000 (100 % of the royalty)", {
            code: "dataset_share_too_high",
          });
        }
        const datasetId = BigInt(parseInteger("--dataset", flags.dataset, 1));
        const { deployment, clients } = await openChainContext({ ...flags, needKey: true });
        datasetRegistryOf(deployment);
        const found = await resolveModel({ publicClient: clients.publicClient, deployment, model: flags.model });
        const receipt = await clients.transact(`Crediting dataset ${datasetId} on model ${found.modelId}`, () =>
          clients.walletClient.writeContract({
            address: deployment.contracts.ModelRegistry.address,
            abi: modelRegistryAbi,
            functionName: "creditDataset",
            args: [found.modelId, datasetId, share],
            chain: clients.chain,
            account: clients.account,
          }),
        );
        const [event] = parseEventLogs({ abi: modelRegistryAbi, logs: receipt.logs, eventName: "DatasetCredited" });
        const line = {
          event: "credited",
          modelId: found.modelId.toString(),
          datasetId: datasetId.toString(),
          shareBps: share,
          totalShareBps: event?.args.totalShareBps ?? share,
          txHash: receipt.transactionHash,
        };
        if (json) process.stdout.write(`${JSON.stringify(line)}\n`);
        else {
          process.stdout.write(
            `model ${line.modelId} credits dataset ${line.datasetId} with ${share} bps of its royalty ` +
              `(${line.totalShareBps} bps credited in all)\n`,
          );
        }
      });
    });
}
