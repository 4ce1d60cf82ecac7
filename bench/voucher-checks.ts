/**
 * Voucher signature checks per second on one core (the provider checks one per paid request).
 *   node bench/voucher-checks.ts [--vouchers 2000] [--keys 8] [--seconds 2]
 * Pre-signs distinct vouchers with several keys, then, in the same process, times for `--seconds`
 * of wall time each:
 * - `viem`: `recoverTypedDataAddress` on the Voucher type (the baseline);
 * - `verifier`: `createVoucherVerifier(…).recoverSigner` from @verity/chain (recovery);
 * - `signedBy`: `createVoucherVerifier(…).signedBy` against the channel's known authorizer (the
 *   provider's hot path: verification against the cached public key; impl `…-verify`).
 * Every recovered address is compared with the signer, so a fast wrong answer cannot pass.
 * Single-threaded, so the rate is per core. Target: ≥ 10,000 checks/s/core.
 */
import { createRequire } from "node:module";
import { parseArgs } from "node:util";
import { createVoucherVerifier } from "@verity/chain";
import { voucherDomain, voucherTypes } from "@verity/core";
import { keccak256, recoverTypedDataAddress, toHex } from "viem";
import { privateKeyToAccount } from "viem/accounts";

const { values } = parseArgs({
  options: {
    vouchers: { type: "string", default: "2000" },
    keys: { type: "string", default: "8" },
    seconds: { type: "string", default: "2" },
  },
});
const voucherCount = Number(values.vouchers);
const keyCount = Number(values.keys);
const durationMs = Number(values.seconds) * 1000;

const chainId = 31337;
const verifyingContract = "0xCf7Ed3AccA5a467e9e704C703E8D87F634fB0Fc9";
const domain = voucherDomain({ chainId, verifyingContract });

type Signed = { channelId: `0x${string}`; cumulativeAmount: bigint; signature: `0x${string}`; signer: `0x${string}` };

const accounts = Array.from({ length: keyCount }, (_, i) => privateKeyToAccount(keccak256(toHex(`bench-key-${i}`))));
const vouchers: Signed[] = [];
for (let i = 0; i < voucherCount; i++) {
  const account = accounts[i % accounts.length];
  if (!account) throw new Error("no keys");
  const message = {
    channelId: keccak256(toHex(`channel-${i % 97}`)),
    cumulativeAmount: 10n ** 15n + BigInt(i) * 7919n,
  };
  const signature = await account.signTypedData({ domain, types: voucherTypes, primaryType: "Voucher", message });
  vouchers.push({ ...message, signature, signer: account.address.toLowerCase() as `0x${string}` });
}

/** Runs `check` over the vouchers round-robin for `ms` of wall time; returns checks per second. */
async function rate(check: (v: Signed) => `0x${string}` | undefined | Promise<`0x${string}` | undefined>, ms: number) {
  let checks = 0;
  const started = performance.now();
  let elapsed = 0;
  while (elapsed < ms) {
    // Check the clock every 100 calls so reading it costs nothing measurable.
    for (let i = 0; i < 100; i++) {
      const voucher = vouchers[checks % vouchers.length] as Signed;
      const result = check(voucher);
      // Await only real promises: awaiting the synchronous verifier would time the microtask queue.
      const recovered = result instanceof Promise ? await result : result;
      if (recovered?.toLowerCase() !== voucher.signer) throw new Error(`wrong signer for voucher ${checks}`);
      checks++;
    }
    elapsed = performance.now() - started;
  }
  return (checks / elapsed) * 1000;
}

const viemCheck = (v: Signed) =>
  recoverTypedDataAddress({
    domain,
    types: voucherTypes,
    primaryType: "Voucher",
    message: { channelId: v.channelId, cumulativeAmount: v.cumulativeAmount },
    signature: v.signature,
  });
const verifier = createVoucherVerifier({ chainId, verifyingContract });
const verifierCheck = (v: Signed) => verifier.recoverSigner(v);
// The gate knows the channel's authorizer: it asks whether that key signed, and answers the address.
const signedByCheck = (v: Signed) => (verifier.signedBy(v, v.signer) ? v.signer : undefined);

// secp256k1 loads its native binding (libsecp256k1) when a prebuilt binary fits, else pure-JS elliptic.
const loaded = Object.keys(createRequire(import.meta.url).cache);
const impl = loaded.some((path) => /secp256k1[/\\]bindings\.js$/.test(path)) ? "libsecp256k1" : "elliptic";

await rate(viemCheck, 200); // warm-up (JIT)
await rate(verifierCheck, 200);
await rate(signedByCheck, 200);
const viemRate = await rate(viemCheck, durationMs);
const verifierRate = await rate(verifierCheck, durationMs);
const signedByRate = await rate(signedByCheck, durationMs);

function line(figure: { value: number; baseline: number | null; impl: string }): void {
  const round = (x: number) => Math.round(x * 10) / 10;
  console.log(
    JSON.stringify({
      bench: "voucher-checks",
      metric: "checks_per_second_per_core",
      value: round(figure.value),
      unit: "checks/s",
      baseline: figure.baseline === null ? null : round(figure.baseline),
      ratio: figure.baseline === null ? null : Math.round((figure.value / figure.baseline) * 100) / 100,
      impl: figure.impl,
      vouchers: voucherCount,
      keys: keyCount,
    }),
  );
}
line({ value: viemRate, baseline: null, impl: "viem" });
line({ value: verifierRate, baseline: viemRate, impl });
line({ value: signedByRate, baseline: viemRate, impl: `${impl}-verify` });
