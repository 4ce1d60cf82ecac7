import { readFileSync, statSync } from "node:fs";
import { readKeystoreFile } from "@verity/chain";
import { ConfigError } from "@verity/core";
import { readPassword } from "./read-password.ts";

const KEY_HINT =
  "Pass --key-file <file> (a file holding the 0x… key) or --keystore <file> (password in VERITY_KEYSTORE_PASSWORD), or set VERITY_KEY_FILE, VERITY_KEY or VERITY_KEYSTORE";

/** The key arguments a role command takes; `key` is a raw `--key` value, which is always refused. */
export type KeyArgs = { key?: string | undefined; keyFile?: string | undefined; keystore?: string | undefined };

function normalise(value: string, where: string): `0x${string}` {
  const trimmed = value.trim();
  const key = trimmed.startsWith("0x") ? trimmed : `0x${trimmed}`;
  if (!/^0x[0-9a-fA-F]{64}$/.test(key)) {
    throw new ConfigError(`${where} does not hold a 32-byte hex private key`, {
      code: "invalid_parameter",
      hint: "Write a 0x-prefixed 64-hex-digit key, alone on one line",
    });
  }
  return key as `0x${string}`;
}

/**
 * A raw key on the command line is visible to every user of the machine (`ps`, /proc, shell
 * history), so it is refused with a hint to the file and environment forms.
 */
function refuseKeyInArgv(key: string | undefined): void {
  if (key === undefined) return;
  throw new ConfigError("Private keys are not accepted on the command line (anyone on the machine can read them)", {
    code: "key_in_argv",
    hint: "Put the key in a file readable only by you (chmod 600) and pass --key-file <file>, or set VERITY_KEY_FILE or VERITY_KEY",
  });
}

function readKeyFile(path: string, warn: (line: string) => void): `0x${string}` {
  let text: string;
  try {
    text = readFileSync(path, "utf8");
  } catch (error) {
    throw new ConfigError(`Cannot read the key file ${path}: ${(error as Error).message}`, {
      code: "invalid_parameter",
      hint: "Check the --key-file / VERITY_KEY_FILE path",
    });
  }
  if ((statSync(path).mode & 0o077) !== 0) {
    warn(`warning: key file ${path} is readable by other users; run chmod 600 ${path}`);
  }
  return normalise(text, `The key file ${path}`);
}

/**
 * The signing key of a role: from `--key-file`, else `VERITY_KEY_FILE`, else the `VERITY_KEY`
 * environment variable. A raw `--key` value is refused (`key_in_argv`). Never printed.
 */
export function readKey(args: KeyArgs & { env?: string; warn?: (line: string) => void }): `0x${string}` {
  refuseKeyInArgv(args.key);
  const warn = args.warn ?? ((line: string) => process.stderr.write(`${line}\n`));
  const file = args.keyFile || process.env.VERITY_KEY_FILE;
  if (file) return readKeyFile(file, warn);
  const value = process.env[args.env ?? "VERITY_KEY"];
  if (!value) throw new ConfigError("No signing key given", { code: "invalid_parameter", hint: KEY_HINT });
  return normalise(value, "VERITY_KEY");
}

/**
 * Like `readKey`, but an encrypted keystore (Web3 Secret Storage, as `cast wallet` and MetaMask
 * export) wins when `--keystore` or `VERITY_KEYSTORE` names one; its password comes from
 * `VERITY_KEYSTORE_PASSWORD` (or `VERITY_PASSWORD`), else it is asked on a terminal.
 */
export async function readSigningKey(args: KeyArgs): Promise<`0x${string}`> {
  refuseKeyInArgv(args.key);
  const keystore = args.keystore || process.env.VERITY_KEYSTORE;
  if (keystore) {
    const password = await readPassword({ envVars: ["VERITY_KEYSTORE_PASSWORD", "VERITY_PASSWORD"] });
    return readKeystoreFile({ path: keystore, password });
  }
  return readKey(args);
}

/** Whether a key was given at all (flag or environment), for commands where one is optional. */
export function hasSigningKey(args: KeyArgs): boolean {
  return Boolean(
    args.key ||
      args.keyFile ||
      args.keystore ||
      process.env.VERITY_KEY ||
      process.env.VERITY_KEY_FILE ||
      process.env.VERITY_KEYSTORE,
  );
}
