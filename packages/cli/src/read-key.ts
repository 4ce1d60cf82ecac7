import { readKeystoreFile } from "@verity/chain";
import { ConfigError } from "@verity/core";

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
  const value = args.key ?? process.env[args.env ?? "VERITY_KEY"];
  if (!value) {
    throw new ConfigError("No signing key given", {
      code: "invalid_parameter",
      hint: "Pass --keystore <file> (password in VERITY_KEYSTORE_PASSWORD), --key 0x… or set VERITY_KEY",
    });
  }
  return normalise(value);
}

/**
 * Like `readKey`, but an encrypted keystore (Web3 Secret Storage, as `cast wallet` and MetaMask
 * export) wins when `--keystore` or `VERITY_KEYSTORE` names one; its password comes from
 * `VERITY_KEYSTORE_PASSWORD`.
 */
export async function readSigningKey(args: {
  key?: string | undefined;
  keystore?: string | undefined;
}): Promise<`0x${string}`> {
  const keystore = args.keystore ?? process.env.VERITY_KEYSTORE;
  if (keystore) {
    const password = process.env.VERITY_KEYSTORE_PASSWORD;
    if (password === undefined) {
      throw new ConfigError("The keystore's password is missing", {
        code: "invalid_parameter",
        hint: "Set VERITY_KEYSTORE_PASSWORD",
      });
    }
    return readKeystoreFile({ path: keystore, password });
  }
  return readKey({ key: args.key });
}
