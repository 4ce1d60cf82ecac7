import assert from "node:assert/strict";
import { test } from "node:test";
import { voucherDomain, voucherTypes } from "@verity/core";
import fc from "fast-check";
import { hashTypedData, recoverTypedDataAddress, toHex } from "viem";
import { privateKeyToAccount } from "viem/accounts";
import { createVoucherVerifier } from "./voucher-verifier.ts";

const CONTRACT = "0xCf7Ed3AccA5a467e9e704C703E8D87F634fB0Fc9" as const;
const HALF_N = 0x7fffffffffffffffffffffffffffffff5d576e7357a4501ddfe92f46681b20a0n;
const N = HALF_N * 2n + 1n;

const keyArb = fc
  .uint8Array({ minLength: 32, maxLength: 32 })
  .filter((b) => b.some((x) => x !== 0) && BigInt(toHex(b)) < N);
const channelArb = fc.uint8Array({ minLength: 32, maxLength: 32 }).map((b) => toHex(b));
const amountArb = fc.bigInt({ min: 0n, max: 2n ** 256n - 1n });

test("recovers the same signer as viem for random keys, channels and amounts", async () => {
  const verifier = createVoucherVerifier({ chainId: 31337, verifyingContract: CONTRACT });
  await fc.assert(
    fc.asyncProperty(keyArb, channelArb, amountArb, async (key, channelId, cumulativeAmount) => {
      const account = privateKeyToAccount(toHex(key));
      const message = { channelId, cumulativeAmount };
      const domain = voucherDomain({ chainId: 31337, verifyingContract: CONTRACT });
      const signature = await account.signTypedData({ domain, types: voucherTypes, primaryType: "Voucher", message });
      assert.equal(
        toHex(verifier.digest(channelId, cumulativeAmount)),
        hashTypedData({ domain, types: voucherTypes, primaryType: "Voucher", message }),
      );
      const viem = await recoverTypedDataAddress({
        domain,
        types: voucherTypes,
        primaryType: "Voucher",
        message,
        signature,
      });
      assert.equal(verifier.recoverSigner({ ...message, signature }), viem.toLowerCase());
    }),
    { numRuns: 100 },
  );
});

test("a voucher for another chain or contract recovers to another address", async () => {
  const account = privateKeyToAccount(`0x${"42".repeat(32)}`);
  const message = { channelId: `0x${"ab".repeat(32)}` as const, cumulativeAmount: 10n };
  const sign = (chainId: number, verifyingContract: `0x${string}`) =>
    account.signTypedData({
      domain: voucherDomain({ chainId, verifyingContract }),
      types: voucherTypes,
      primaryType: "Voucher",
      message,
    });
  const verifier = createVoucherVerifier({ chainId: 31337, verifyingContract: CONTRACT });
  assert.equal(
    verifier.recoverSigner({ ...message, signature: await sign(31337, CONTRACT) }),
    account.address.toLowerCase(),
  );
  assert.notEqual(
    verifier.recoverSigner({ ...message, signature: await sign(1, CONTRACT) }),
    account.address.toLowerCase(),
  );
  assert.notEqual(
    verifier.recoverSigner({ ...message, signature: await sign(31337, "0x0000000000000000000000000000000000000001") }),
    account.address.toLowerCase(),
  );
});

test("rejects what the contract rejects: high s, bad v, wrong length, garbage", async () => {
  const account = privateKeyToAccount(`0x${"07".repeat(32)}`);
  const message = { channelId: `0x${"cd".repeat(32)}` as const, cumulativeAmount: 5n };
  const signature = await account.signTypedData({
    domain: voucherDomain({ chainId: 31337, verifyingContract: CONTRACT }),
    types: voucherTypes,
    primaryType: "Voucher",
    message,
  });
  const verifier = createVoucherVerifier({ chainId: 31337, verifyingContract: CONTRACT });
  const r = signature.slice(2, 66);
  const s = BigInt(`0x${signature.slice(66, 130)}`);
  const v = Number.parseInt(signature.slice(130), 16);
  const highS = `0x${r}${(N - s).toString(16).padStart(64, "0")}${(v === 27 ? 28 : 27).toString(16)}` as `0x${string}`;
  assert.equal(verifier.recoverSigner({ ...message, signature: highS }), undefined);
  assert.equal(
    verifier.recoverSigner({ ...message, signature: `${signature.slice(0, 130)}1b` as `0x${string}` }) === undefined,
    false,
  );
  assert.equal(
    verifier.recoverSigner({ ...message, signature: `${signature.slice(0, 130)}00` as `0x${string}` }),
    undefined,
  );
  assert.equal(verifier.recoverSigner({ ...message, signature: signature.slice(0, 130) as `0x${string}` }), undefined);
  assert.equal(verifier.recoverSigner({ ...message, signature: `0x${"00".repeat(65)}` }), undefined);
});

test("repeated checks (cached key → address) answer exactly as viem, for tampered vouchers too", async () => {
  const verifier = createVoucherVerifier({ chainId: 31337, verifyingContract: CONTRACT });
  const domain = voucherDomain({ chainId: 31337, verifyingContract: CONTRACT });
  // a few keys, so most checks hit the cache, as a provider's do
  const keys = [1, 2, 3].map((i) => privateKeyToAccount(toHex(new Uint8Array(32).fill(i))));
  const viemRecover = async (
    message: { channelId: `0x${string}`; cumulativeAmount: bigint },
    signature: `0x${string}`,
  ) => {
    try {
      return (
        await recoverTypedDataAddress({ domain, types: voucherTypes, primaryType: "Voucher", message, signature })
      ).toLowerCase();
    } catch {
      return undefined;
    }
  };
  await fc.assert(
    fc.asyncProperty(
      fc.integer({ min: 0, max: 2 }),
      channelArb,
      channelArb,
      amountArb,
      fc.constantFrom("none", "flip_v", "high_s", "other_channel", "other_amount"),
      async (k, channelId, otherChannel, cumulativeAmount, tamper) => {
        const account = keys[k] as (typeof keys)[number];
        const message = { channelId, cumulativeAmount };
        const signature = await account.signTypedData({ domain, types: voucherTypes, primaryType: "Voucher", message });
        const signer = account.address.toLowerCase();
        assert.equal(verifier.recoverSigner({ ...message, signature }), signer);
        const r = signature.slice(2, 66);
        const s = BigInt(`0x${signature.slice(66, 130)}`);
        const v = Number.parseInt(signature.slice(130), 16);
        const flipped = (v === 27 ? 28 : 27).toString(16);
        if (tamper === "flip_v") {
          const bad = `${signature.slice(0, 130)}${flipped}` as `0x${string}`;
          const got = verifier.recoverSigner({ ...message, signature: bad });
          assert.notEqual(got, signer);
          assert.equal(got, await viemRecover(message, bad));
        } else if (tamper === "high_s") {
          // the same signature, malleated: valid for ecrecover, refused by the contract (OpenZeppelin ECDSA)
          const bad = `0x${r}${(N - s).toString(16).padStart(64, "0")}${flipped}` as `0x${string}`;
          assert.equal(await viemRecover(message, bad), signer);
          assert.equal(verifier.recoverSigner({ ...message, signature: bad }), undefined);
        } else if (tamper === "other_channel" && otherChannel !== channelId) {
          assert.notEqual(verifier.recoverSigner({ channelId: otherChannel, cumulativeAmount, signature }), signer);
        } else if (tamper === "other_amount") {
          const other = { channelId, cumulativeAmount: cumulativeAmount ^ 1n };
          assert.notEqual(verifier.recoverSigner({ ...other, signature }), signer);
        }
      },
    ),
    { numRuns: 150 },
  );
});

test("signedBy agrees with recovery on the key's signatures; claimable gives back the v ecrecover maps to the signer", async () => {
  const verifier = createVoucherVerifier({ chainId: 31337, verifyingContract: CONTRACT });
  const domain = voucherDomain({ chainId: 31337, verifyingContract: CONTRACT });
  const account = privateKeyToAccount(toHex(new Uint8Array(32).fill(9)));
  const other = privateKeyToAccount(toHex(new Uint8Array(32).fill(10)));
  const signer = account.address;
  await fc.assert(
    fc.asyncProperty(channelArb, amountArb, fc.boolean(), async (channelId, cumulativeAmount, first) => {
      const message = { channelId, cumulativeAmount };
      const signature = await account.signTypedData({ domain, types: voucherTypes, primaryType: "Voucher", message });
      const v = Number.parseInt(signature.slice(130), 16);
      const flippedV = `${signature.slice(0, 130)}${(v === 27 ? 28 : 27).toString(16)}` as `0x${string}`;
      const r = signature.slice(2, 66);
      const s = BigInt(`0x${signature.slice(66, 130)}`);
      const highS = `0x${r}${(N - s).toString(16).padStart(64, "0")}${signature.slice(130)}` as `0x${string}`;
      if (first) assert.equal(verifier.signedBy({ ...message, signature }, signer), true);
      assert.equal(verifier.signedBy({ ...message, signature }, other.address), false);
      assert.equal(verifier.signedBy({ ...message, signature: highS }, signer), false);
      assert.equal(verifier.signedBy({ channelId, cumulativeAmount: cumulativeAmount ^ 1n, signature }, signer), false);
      // the key is known now: (r, s) alone are judged, so a flipped v passes; claimable restores it
      assert.equal(verifier.signedBy({ ...message, signature: flippedV }, signer), true);
      assert.equal(verifier.claimable({ ...message, signature: flippedV }, signer), signature);
      assert.equal(verifier.claimable({ ...message, signature }, signer), signature);
      assert.equal(
        verifier.recoverSigner({
          ...message,
          signature: verifier.claimable({ ...message, signature: flippedV }, signer),
        }),
        signer.toLowerCase(),
      );
    }),
    { numRuns: 60 },
  );
});

test("signedBy recovers for a signer whose key it has not seen, so a flipped v is refused then", async () => {
  const verifier = createVoucherVerifier({ chainId: 31337, verifyingContract: CONTRACT });
  const domain = voucherDomain({ chainId: 31337, verifyingContract: CONTRACT });
  const account = privateKeyToAccount(toHex(new Uint8Array(32).fill(77)));
  const message = { channelId: `0x${"cd".repeat(32)}` as const, cumulativeAmount: 5n };
  const signature = await account.signTypedData({ domain, types: voucherTypes, primaryType: "Voucher", message });
  const v = Number.parseInt(signature.slice(130), 16);
  const flippedV = `${signature.slice(0, 130)}${(v === 27 ? 28 : 27).toString(16)}` as `0x${string}`;
  assert.equal(verifier.signedBy({ ...message, signature: flippedV }, account.address), false);
  assert.equal(verifier.signedBy({ ...message, signature }, account.address), true);
});
