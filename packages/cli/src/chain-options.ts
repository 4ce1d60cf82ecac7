import type { Command } from "commander";

/**
 * The options every role command that touches the chain takes: `--rpc`, `--deployment`, and (with
 * `key`, the key's description) `--key`/`--keystore`. Each can also come from `VERITY_RPC`,
 * `VERITY_DEPLOYMENT`, `VERITY_KEY`, `VERITY_KEYSTORE` or the config file.
 */
export function addChainOptions(command: Command, args: { key?: string }): Command {
  command
    .option("--rpc <url>", "JSON-RPC URL of the chain (or VERITY_RPC)", "http://127.0.0.1:8545")
    .option("--deployment <file>", "deployment file (or VERITY_DEPLOYMENT)", ".verity/devnet/deployment.json");
  if (args.key) {
    command
      .option("--key <hex>", `${args.key} (or VERITY_KEY)`)
      .option("--keystore <file>", "encrypted keystore with that key (password in VERITY_KEYSTORE_PASSWORD)");
  }
  return command;
}
