import { createHash } from "node:crypto";
import { createReadStream } from "node:fs";
import { datasetRegistryAbi } from "@verity/contracts";
import { ConfigError, type Deployment } from "@verity/core";
import type { Command } from "commander";
import { type Hex, isHex, parseEventLogs } from "viem";
import { type ChainFlags, openChainContext, parseAddress } from "../chain-context.ts";
import { addChainOptions } from "../chain-options.ts";
import { readDatasetEarnings } from "../dataset-earnings.ts";
import { formatAmount } from "../format-amount.ts";
import { parseAmount, parseInteger } from "../parse-flags.ts";
import { createProgress } from "../progress.ts";
import { runCommand } from "../run-command.ts";
import { formatTable } from "../table.ts";

type RegisterFlags = ChainFlags & {
  digest?: string;
  file?: string;
  licence: string;
  uri: string;
  share: string;
  pricePerUse: string;
  json?: boolean;
};

type EarningsFlags = ChainFlags & { dataset?: string; owner?: string; json?: boolean };

/** The deployment's DatasetRegistry, or an error saying the deployment predates the data market. */
export function datasetRegistryOf(deployment: Deployment): `0x${string}` {
  const registry = deployment.contracts.DatasetRegistry;
  if (!registry) {
    throw new ConfigError("This deployment has no DatasetRegistry", {
      code: "deployment_mismatch",
      hint: "It was deployed before the data market: redeploy with `verity deploy`",
    });
  }
  return registry.address;
}

/** The dataset's content digest: `--digest` as given, or the SHA-256 of `--file`. */
async function datasetDigest(flags: { digest?: string; file?: string }): Promise<Hex> {
  if ((flags.digest === undefined) === (flags.file === undefined)) {
    throw new ConfigError("Pass exactly one of --digest and --file", { code: "invalid_parameter" });
  }
  if (flags.digest !== undefined) {
    if (!isHex(flags.digest) || flags.digest.length !== 66) {
      throw new ConfigError(`--digest is not a 32-byte hex digest: ${JSON.stringify(flags.digest)}`, {
        code: "invalid_parameter",
        hint: "Give 0x followed by 64 hex digits, or --file to hash the dataset",
      });
    }
    return flags.digest.toLowerCase() as Hex;
  }
  const hash = createHash("sha256");
  try {
    for await (const chunk of createReadStream(flags.file as string)) hash.update(chunk as Buffer);
  } catch (cause) {
    throw new ConfigError(`Cannot read --file ${flags.file}`, { code: "invalid_parameter", cause });
  }
  return `0x${hash.digest("hex")}`;
}

export function registerData(program: Command): void {
  const data = program
    .command("data")
    .description("Data contributors: register datasets and see what model royalties paid them")
    .addHelpText(
      "after",
      "\nExamples:\n  $ verity data register --file ./corpus.jsonl --licence https://…/LICENSE --uri ipfs://… --share 1000\n" +
        "  $ verity data earnings --dataset 1 --json",
    );

  addChainOptions(
    data
      .command("register")
      .description("Register a dataset by its content digest in the DatasetRegistry (first registrant owns it)"),
    { key: "contributor's private key (owns the dataset and receives its payments)" },
  )
    .option("--digest <hex>", "content digest of the dataset (32 bytes)")
    .option("--file <path>", "hash this file (SHA-256) as the dataset's digest")
    .option("--licence <uri>", "URI of the dataset's licence", "")
    .option("--uri <uri>", "where the dataset can be fetched", "")
    .option("--share <bps>", "smallest share of a model's royalty a credit must give it, basis points", "0")
    .option("--price-per-use <amount>", "price per retrieval, in tokens (retrieval-augmented serving)", "0")
    .option("--json", "print one JSON line with the dataset id")
    .addHelpText(
      "after",
      "\nExamples:\n  $ VERITY_KEY=0x… verity data register --file ./corpus.jsonl --licence https://…/CC-BY-4.0 --share 500\n" +
        "  $ verity data register --keystore me.json --digest 0x… --uri ipfs://… --json",
    )
    .action(async (flags: RegisterFlags) => {
      const json = flags.json === true;
      await runCommand(json, async () => {
        const progress = createProgress({ quiet: json });
        const share = parseInteger("--share", flags.share);
        if (share > 10_000) {
          throw new ConfigError("--share must be at most 10000 (100 % of a royalty)", {
            code: "dataset_share_too_high",
          });
        }
        const digest = await datasetDigest(flags);
        const { deployment, clients } = await openChainContext({ ...flags, needKey: true });
        const pricePerUse = parseAmount("--price-per-use", flags.pricePerUse, deployment.token.decimals);
        const address = datasetRegistryOf(deployment);
        const existing = await clients.publicClient.readContract({
          address,
          abi: datasetRegistryAbi,
          functionName: "datasetIdOf",
          args: [digest],
        });
        if (existing !== 0n) {
          throw new ConfigError(`This digest is already registered as dataset ${existing}`, {
            code: "dataset_digest_taken",
            hint: "A digest is registered once; the first registrant owns it (see docs/DATA-MARKET.md)",
            details: { datasetId: existing.toString() },
          });
        }
        const receipt = await progress.step(`register dataset ${digest.slice(0, 12)}…`, () =>
          clients.transact("Registering the dataset", () =>
            clients.walletClient.writeContract({
              address,
              abi: datasetRegistryAbi,
              functionName: "register",
              args: [digest, share, pricePerUse, flags.licence, flags.uri],
              chain: clients.chain,
              account: clients.account,
            }),
          ),
        );
        const [event] = parseEventLogs({ abi: datasetRegistryAbi, logs: receipt.logs, eventName: "DatasetRegistered" });
        const line = {
          event: "registered",
          datasetId: (event?.args.datasetId ?? 0n).toString(),
          digest,
          owner: clients.account.address,
          minShareBps: share,
          pricePerUse: pricePerUse.toString(),
          txHash: receipt.transactionHash,
        };
        if (json) process.stdout.write(`${JSON.stringify(line)}\n`);
        else process.stdout.write(`dataset ${line.datasetId} registered (asks ${share} bps of a royalty)\n`);
      });
    });

  addChainOptions(
    data.command("earnings").description("What claims paid datasets, per dataset and payee (DatasetRoyaltyPaid)"),
    {},
  )
    .option("--dataset <id>", "only this dataset")
    .option("--owner <address>", "only payments to this address")
    .option("--json", "print one JSON object with every row")
    .addHelpText("after", "\nExamples:\n  $ verity data earnings\n  $ verity data earnings --owner 0x… --json")
    .action(async (flags: EarningsFlags) => {
      const json = flags.json === true;
      await runCommand(json, async () => {
        const datasetId = flags.dataset === undefined ? undefined : BigInt(parseInteger("--dataset", flags.dataset, 1));
        const owner = flags.owner === undefined ? undefined : parseAddress("--owner", flags.owner);
        const { deployment, clients } = await openChainContext({ ...flags, needKey: false });
        datasetRegistryOf(deployment);
        const rows = await readDatasetEarnings({
          publicClient: clients.publicClient,
          deployment,
          ...(datasetId === undefined ? {} : { datasetId }),
          ...(owner === undefined ? {} : { owner }),
        });
        const total = rows.reduce((sum, r) => sum + r.amount, 0n);
        if (json) {
          const earnings = rows.map((r) => ({
            datasetId: r.datasetId.toString(),
            to: r.to,
            amount: r.amount.toString(),
            payments: r.payments,
            modelIds: r.modelIds.map(String),
          }));
          process.stdout.write(
            `${JSON.stringify({ event: "earnings", chainId: deployment.chainId, total: total.toString(), earnings })}\n`,
          );
          return;
        }
        if (rows.length === 0) {
          process.stdout.write("No dataset has been paid yet\n");
          return;
        }
        const decimals = deployment.token.decimals;
        const symbol = deployment.token.symbol;
        const table = formatTable({
          columns: ["dataset", "paid to", `earned (${symbol})`, "payments", "models"],
          rows: rows.map((r) => [
            r.datasetId.toString(),
            r.to,
            formatAmount(r.amount, decimals),
            `${r.payments}`,
            r.modelIds.join(","),
          ]),
          right: ["dataset", `earned (${symbol})`, "payments"],
        });
        process.stdout.write(`${table}\ntotal ${formatAmount(total, decimals)} ${symbol}\n`);
      });
    });
}
