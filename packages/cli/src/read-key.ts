import { ConfigError } from "@verity/core";

/**
 * The signing key of a role: from `--key`, else the `VERITY_KEY` environment variable. Never printed.
 * (Encrypted keystores are read by the roles that hold long-lived keys.)
 */
export function readKey(args: { key?: string | undefined; env?: string }): `0x${string}` {
  const value = args.key ?? process.env[args.env ?? "VERITY_KEY"];
  if (!value) {
    throw new ConfigError("No signing key given", {
      code: "invalid_parameter",
      hint: "Pass --key 0x… or set VERITY_KEY",
    });
  }
  const key = value.startsWith("0x") ? value : `0x${value}`;
  if (!/^0x[0-9a-fA-F]{64}$/.test(key)) {
    throw new ConfigError("The signing key is not a 32-byte hex private key", {
      code: "invalid_parameter",
      hint: "Pass a 0x-prefixed 64-hex-digit key",
    });
  }
  return key as `0x${string}`;
}
