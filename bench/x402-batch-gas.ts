/**
 * Settlement gas of x402 batch-settlement as Verity runs it (the scheme's contract at its canonical
 * address, payloads signed by the real `@x402/evm` client, calls as its facilitator sends them),
 * beside x402's published figures and Verity's own channels, in one run on one fresh chain. The
 * measuring code is the gas report's (contracts/scripts/gas-x402-batch.ts); this prints its figures
 * as bench lines: channel open (first deposit), gas per extra channel in one claim, gas per request
 * on one busy channel at 1,000 requests (claim alone, and with its sweep).
 */
import { createTestChain } from "@verity/chain/testing";
import { measureX402Batch } from "../contracts/scripts/gas-x402-batch.ts";
import { deployFixture } from "../contracts/test/fixture.ts";

/** x402 batch-settlement's published figures. */
const ANCHORS = { open: 111_738, perExtraChannel: 19_200, busyPerRequest: 71 };

const t = await createTestChain();
try {
  const report: Record<string, number> = {};
  await measureX402Batch(t, await deployFixture(t), report);
  const line = (metric: string, value: number | undefined, baseline: number) => {
    if (value === undefined) throw new Error(`the gas report has no ${metric}`);
    console.log(
      JSON.stringify({
        bench: "x402-batch-gas",
        metric,
        value,
        unit: "gas",
        baseline,
        ratio: Math.round((value / baseline) * 1e5) / 1e5,
        anchor: "x402 batch-settlement (published)",
      }),
    );
  };
  line("channel_open_first_deposit", report["x402Batch.deposit.open"], ANCHORS.open);
  line("gas_per_extra_channel_in_claim", report["x402Batch.claim.perExtraChannel"], ANCHORS.perExtraChannel);
  line("gas_per_channel_claim_of_100", report["x402Batch.claim.100.perChannel"], ANCHORS.perExtraChannel);
  line("gas_per_request_busy_channel_1000", report["x402Batch.busyChannel.claimPerRequest"], ANCHORS.busyPerRequest);
  line(
    "gas_per_request_busy_channel_1000_with_sweep",
    report["x402Batch.busyChannel.perRequest"],
    ANCHORS.busyPerRequest,
  );
} finally {
  await t.close();
}
