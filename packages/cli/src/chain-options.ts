import { type Command, Option } from "commander";

/** `--key-file <file>`: a file holding the role's 0x… private key (`what` describes the key). */
export function keyFileOption(what: string): Option {
  return new Option("--key-file <file>", `file holding the ${what} (or VERITY_KEY_FILE / VERITY_KEY)`);
}

/** `--keystore <file>`: an encrypted keystore with the role's key. */
export function keystoreOption(what: string): Option {
  return new Option("--keystore <file>", `encrypted keystore with the ${what} (password in VERITY_KEYSTORE_PASSWORD)`);
}

/**
 * A hidden `--key <hex>` that exists only to refuse raw keys on the command line (visible to every
 * user in `ps`) with a hint to the file and environment forms (`key_in_argv`).
 */
export function rawKeyOption(): Option {
  return new Option("--key <hex>", "refused: a key on the command line is visible to every user").hideHelp();
}

/**
 * The options every role command that touches the chain takes: `--rpc`, `--deployment`, and (with
 * `key`, the key's description) `--key-file`/`--keystore`. Each can also come from `VERITY_RPC`,
 * `VERITY_DEPLOYMENT`, `VERITY_KEY_FILE`, `VERITY_KEY`, `VERITY_KEYSTORE` or the config file.
 */
export function addChainOptions(command: Command, args: { key?: string }): Command {
  command
    .option("--rpc <url>", "JSON-RPC URL of the chain (or VERITY_RPC)", "http://127.0.0.1:8545")
    .option("--deployment <file>", "deployment file (or VERITY_DEPLOYMENT)", ".verity/devnet/deployment.json");
  if (args.key) {
    command.addOption(keyFileOption(args.key)).addOption(keystoreOption(args.key)).addOption(rawKeyOption());
  }
  return command;
}
