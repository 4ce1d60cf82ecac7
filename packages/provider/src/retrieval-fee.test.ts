import assert from "node:assert/strict";
import { test } from "node:test";
import fc from "fast-check";
import { retrievalFee } from "./retrieval-fee.ts";

const BPS = 10_000n;

/** What PaymentChannels.claim credits a dataset for one claim call of `channels` (each a sum of charges). */
function chainPays(args: { channels: bigint[][]; royaltyBps: bigint; shareBps: bigint }): bigint {
  let royalty = 0n;
  for (const charges of args.channels) {
    const increase = charges.reduce((a, b) => a + b, 0n);
    royalty += (increase * args.royaltyBps) / BPS;
  }
  return (royalty * args.shareBps) / BPS;
}

test("a claim of whole requests pays the dataset at least pricePerUse per request, whatever the split and charges", () => {
  fc.assert(
    fc.property(
      fc.bigInt({ min: 1n, max: 10n ** 9n }),
      fc.bigInt({ min: 1n, max: 10_000n }),
      fc.bigInt({ min: 1n, max: 10_000n }),
      fc.array(fc.array(fc.bigInt({ min: 0n, max: 10n ** 6n }), { minLength: 1, maxLength: 5 }), {
        minLength: 1,
        maxLength: 4,
      }),
      (pricePerUse, royaltyBps, shareBps, tokenCharges) => {
        const fee = retrievalFee({ pricePerUse, royaltyBps, shareBps });
        const channels = tokenCharges.map((charges) => charges.map((c) => c + fee));
        const requests = BigInt(channels.flat().length);
        assert.ok(chainPays({ channels, royaltyBps, shareBps }) >= pricePerUse * requests);
      },
    ),
    { numRuns: 2_000 },
  );
});

test("the fee is ceil((pricePerUse + 2) × 10⁸ / (royalty × share)); no price, no fee; no royalty to the dataset is refused", () => {
  const fee = retrievalFee({ pricePerUse: 100n, royaltyBps: 2_000n, shareBps: 5_000n });
  assert.equal(fee, 1_020n);
  assert.equal(retrievalFee({ pricePerUse: 0n, royaltyBps: 0n, shareBps: 0n }), 0n);
  assert.equal(retrievalFee({ pricePerUse: 100n, royaltyBps: 10_000n, shareBps: 10_000n }), 102n);
  assert.throws(
    () => retrievalFee({ pricePerUse: 1n, royaltyBps: 0n, shareBps: 5_000n }),
    (e: unknown) => (e as { code?: string }).code === "dataset_not_credited",
  );
});
