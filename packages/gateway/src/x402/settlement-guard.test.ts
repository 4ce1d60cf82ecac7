import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import type { AuthorizationKey } from "@verity/chain/x402";
import { createPgliteStore } from "../store/pglite-store.ts";
import { openTestStore } from "../store/store-testing.ts";
import { createSettlementGuard } from "./settlement-guard.ts";

const key: AuthorizationKey = {
  network: "eip155:31337",
  token: "0x5FbDB2315678afecb367f032d93F642f64180aa3",
  payer: "0xBcd4042DE499D14e55001CcbB24a551F3b954096",
  nonce: `0x${"ab".repeat(32)}`,
};

test("an authorization is reserved once; an unsubmitted one can be released, a settled one stays used", async () => {
  const guard = createSettlementGuard();
  assert.equal(await guard.reserve(key, 5n), true);
  assert.equal(guard.isLive(key), true);
  assert.equal(
    await guard.reserve(
      { ...key, payer: key.payer.toLowerCase(), nonce: key.nonce.toUpperCase().replace("0X", "0x") },
      5n,
    ),
    false,
    "case-insensitive",
  );
  assert.equal(
    await guard.reserve({ ...key, token: "0x0000000000000000000000000000000000000001" }, 5n),
    true,
    "nonces are per token",
  );
  await guard.release(key);
  assert.equal(await guard.get(key), undefined, "released: the nonce is still unused on chain");
  assert.equal(await guard.reserve(key, 5n), true);
  assert.equal(await guard.beginSettlement(key), true);
  assert.equal(await guard.beginSettlement(key), false, "submitted once");
  await guard.settled(key, "0x01");
  await guard.release(key);
  assert.deepEqual(await guard.get(key), { state: "settled", amount: 5n, txHash: "0x01" });
  assert.equal(guard.isLive(key), false);
  assert.equal(await guard.reserve(key, 5n), false);
});

test("a settlement in doubt is never released or resubmitted", async () => {
  const guard = createSettlementGuard();
  await guard.reserve(key, 5n);
  await guard.beginSettlement(key);
  await guard.pending(key, "0x02");
  await guard.release(key);
  assert.equal((await guard.get(key))?.state, "pending");
  assert.equal(await guard.beginSettlement(key), false);
  assert.equal(await guard.reserve(key, 5n), false);
});

test("with the gateway store, a reservation survives the process: a new guard on the same data refuses it", async () => {
  const stateDir = mkdtempSync(join(tmpdir(), "verity-x402-guard-"));
  const first = await openTestStore({ stateDir });
  assert.equal(await createSettlementGuard(first).reserve(key, 7n), true);
  await first.close(); // no release: what a kill -9 right after verify leaves behind (the INSERT committed)
  const second = await createPgliteStore({ dataDir: join(stateDir, "gateway-pglite") });
  const guard = createSettlementGuard(second);
  assert.deepEqual(await guard.get(key), { state: "reserved", amount: 7n });
  assert.equal(guard.isLive(key), false, "no request of this process holds it");
  assert.equal(await guard.reserve(key, 7n), false);
  const racing = createSettlementGuard(second);
  const other = { ...key, nonce: `0x${"cd".repeat(32)}` };
  const claims = await Promise.all([guard.reserve(other, 1n), racing.reserve(other, 1n)]);
  assert.deepEqual(claims.sort(), [false, true], "two guards on one database: one INSERT wins");
  await second.close();
  rmSync(stateDir, { recursive: true, force: true });
});
