import { closeSync, existsSync, fsyncSync, openSync, readFileSync, renameSync, writeSync } from "node:fs";
import { ChainError, ConfigError, type Deployment, deploymentSchema } from "@verity/core";
import type { PublicClient } from "viem";

/** Reads and validates a deployment file. */
export function readDeployment(path: string): Deployment {
  if (!existsSync(path)) {
    throw new ConfigError(`No deployment file at ${path}`, {
      code: "deployment_not_found",
      hint: "Deploy with `verity deploy --rpc <url> --out <file>` or pass the file with --deployment",
    });
  }
  let json: unknown;
  try {
    json = JSON.parse(readFileSync(path, "utf8"));
  } catch (cause) {
    throw new ConfigError(`Deployment file ${path} is not valid JSON`, { code: "invalid_parameter", cause });
  }
  const parsed = deploymentSchema.safeParse(json);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw new ConfigError(`Deployment file ${path}: ${issue?.path.join(".")} ${issue?.message}`, {
      code: "invalid_parameter",
      hint: "Regenerate it with `verity deploy`",
    });
  }
  return parsed.data;
}

/** Writes a deployment file atomically (temp file, fsync, rename). */
export function writeDeployment(path: string, deployment: Deployment): void {
  const temp = `${path}.${process.pid}.tmp`;
  const fd = openSync(temp, "w");
  try {
    writeSync(fd, `${JSON.stringify(deployment, null, 2)}\n`);
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
  renameSync(temp, path);
}

/** Fails unless the chain behind `publicClient` is the deployment's chain and holds its contracts. */
export async function verifyDeployment(args: { publicClient: PublicClient; deployment: Deployment }): Promise<void> {
  const { publicClient, deployment } = args;
  const chainId = await publicClient.getChainId();
  if (chainId !== deployment.chainId) {
    throw new ChainError(`The deployment is for chain ${deployment.chainId} but the RPC endpoint is chain ${chainId}`, {
      code: "deployment_mismatch",
      hint: "Use the deployment file written for this chain, or point --rpc at the right chain",
    });
  }
  for (const [name, contract] of Object.entries(deployment.contracts)) {
    if (!contract) continue;
    const code = await publicClient.getCode({ address: contract.address });
    if (!code || code === "0x") {
      throw new ChainError(`No ${name} contract at ${contract.address} on chain ${chainId}`, {
        code: "deployment_mismatch",
        hint: "The chain was reset or the deployment file is from another chain: redeploy with `verity deploy`",
      });
    }
  }
}
