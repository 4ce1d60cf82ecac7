import { readKeystoreFile } from "@verity/chain";
import { ConfigError } from "@verity/core";
import { readPassword } from "./read-password.ts";

const KEY_HINT =
  "Pass --keystore <file> (password in VERITY_KEYSTORE_PASSWORD) or --key 0x…, or set VERITY_KEYSTORE or VERITY_KEY";

function normalise(value: string): `0x${string}` {
  const key = value.startsWith("0x") ? value : `0x${value}`;
  if (!/^0x[0-9a-fA-F]{64}$/.test(key)) {
    throw new ConfigError("The signing key is not a 32-byte hex private key", {
      code: "invalid_parameter",
      hint: "Pass a 0x-prefixed 64-hex-digit key",
    });
  }
  return key as `0x${string}`;
}

/**
 * The signing key of a role: from `--key`, else the `VERITY_KEY` environment variable. Never printed.
 */
export function readKey(args: { key?: string | undefined; env?: string }): `0x${string}` {
  const value = args.key || process.env[args.env ?? "VERITY_KEY"];
  if (!value) throw new ConfigError("No signing key given", { code: "invalid_parameter", hint: KEY_HINT });
  return normalise(value);
}

/**
 * Like `readKey`, but an encrypted keystore (Web3 Secret Storage, as `cast wallet` and MetaMask
 * export) wins when `--keystore` or `VERITY_KEYSTORE` names one; its password comes from
 * `VERITY_KEYSTORE_PASSWORD` (or `VERITY_PASSWORD`), else it is asked on a terminal.
 */
export async function readSigningKey(args: {
  key?: string | undefined;
  keystore?: string | undefined;
}): Promise<`0x${string}`> {
  const keystore = args.keystore || process.env.VERITY_KEYSTORE;
  if (keystore) {
    const password = await readPassword({ envVars: ["VERITY_KEYSTORE_PASSWORD", "VERITY_PASSWORD"] });
    return readKeystoreFile({ path: keystore, password });
  }
  return readKey({ key: args.key });
}

/** Whether a key was given at all (flag or environment), for commands where one is optional. */
export function hasSigningKey(args: { key?: string | undefined; keystore?: string | undefined }): boolean {
  return Boolean(args.key || args.keystore || process.env.VERITY_KEY || process.env.VERITY_KEYSTORE);
}
