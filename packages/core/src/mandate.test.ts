import assert from "node:assert/strict";
import { test } from "node:test";
import { generatePrivateKey, privateKeyToAccount } from "viem/accounts";
import { BaseError } from "./errors.ts";
import {
  checkMandateTime,
  mandateDomain,
  mandateHash,
  mandateJson,
  mandateRefusal,
  mandateTypes,
  parseSignedMandate,
  type SpendMandate,
} from "./mandate.ts";

const owner = privateKeyToAccount(generatePrivateKey());
const spender = privateKeyToAccount(generatePrivateKey());
const chainId = 31337;

function draft(overrides: Partial<SpendMandate> = {}): SpendMandate {
  return {
    owner: owner.address,
    spender: spender.address,
    token: "0x00000000000000000000000000000000000000aa",
    perCall: 1_000n,
    perHour: 5_000n,
    perDay: 20_000n,
    total: 50_000n,
    maxInputPricePerMTok: 2_000_000n,
    maxOutputPricePerMTok: 4_000_000n,
    models: ["verity-tiny"],
    quantizations: ["f16", "q8_0"],
    counterparties: [1n, 2n],
    validAfter: 1_000n,
    validBefore: 2_000n,
    salt: `0x${"11".repeat(32)}`,
    ...overrides,
  };
}

async function sign(mandate: SpendMandate, by = owner) {
  const signature = await by.signTypedData({
    domain: mandateDomain({ chainId }),
    types: mandateTypes,
    primaryType: "SpendMandate",
    message: mandate,
  });
  return mandateJson({ chainId, mandate, signature });
}

async function refusal(value: unknown, key = spender.address): Promise<string> {
  try {
    await parseSignedMandate({ value, chainId, spender: key });
  } catch (error) {
    assert.ok(error instanceof BaseError);
    return error.code;
  }
  return "accepted";
}

test("a mandate signed by its owner parses from JSON, with the same hash as signed", async () => {
  const json = await sign(draft());
  const parsed = await parseSignedMandate({
    value: JSON.parse(JSON.stringify(json)),
    chainId,
    spender: spender.address,
  });
  assert.equal(mandateHash(parsed), mandateHash({ chainId, mandate: draft() }));
  assert.deepEqual(parsed.mandate.counterparties, [1n, 2n]);
});

test("a mandate signed by someone else, edited after signing, for another chain or spender is mandate_invalid", async () => {
  const stranger = privateKeyToAccount(generatePrivateKey());
  assert.equal(await refusal(await sign(draft(), stranger)), "mandate_invalid");
  const edited = (await sign(draft())) as { mandate: Record<string, unknown> };
  edited.mandate.total = "50000000";
  assert.equal(await refusal(edited), "mandate_invalid");
  assert.equal(await refusal({ ...(await sign(draft())), chainId: 1 }), "mandate_invalid");
  assert.equal(await refusal(await sign(draft()), stranger.address), "mandate_invalid");
  assert.equal(await refusal(await sign(draft({ validBefore: 1_000n }))), "mandate_invalid");
  assert.equal(await refusal({ mandate: "nope" }), "mandate_invalid");
  assert.equal(await refusal(null), "mandate_invalid");
  const extra = (await sign(draft())) as { mandate: Record<string, unknown> };
  extra.mandate.unknownField = 1;
  assert.equal(await refusal(extra), "mandate_invalid");
});

test("the validity window: not yet valid and expired are mandate_expired", () => {
  const m = draft();
  assert.throws(
    () => checkMandateTime(m, 999n),
    (e: BaseError) => e.code === "mandate_expired",
  );
  checkMandateTime(m, 1_000n);
  checkMandateTime(m, 1_999n);
  assert.throws(
    () => checkMandateTime(m, 2_000n),
    (e: BaseError) => e.code === "mandate_expired",
  );
});

test("offers outside the mandate are refused with the rule they break", () => {
  const m = draft();
  const offer = {
    model: "verity-tiny",
    quantization: "f16",
    agentId: 1n,
    inputPricePerMTok: 1n,
    outputPricePerMTok: 1n,
  };
  assert.equal(mandateRefusal(m, offer), undefined);
  assert.deepEqual(mandateRefusal(m, { ...offer, model: "other" }), { code: "mandate_not_allowed", limit: "models" });
  assert.deepEqual(mandateRefusal(m, { ...offer, quantization: "q4_0" }), {
    code: "mandate_not_allowed",
    limit: "quantizations",
  });
  const { quantization: _, ...unannounced } = offer;
  assert.equal(mandateRefusal(m, unannounced)?.limit, "quantizations");
  assert.equal(mandateRefusal(m, { ...offer, agentId: 3n })?.limit, "counterparties");
  assert.deepEqual(mandateRefusal(m, { ...offer, inputPricePerMTok: 2_000_001n }), {
    code: "mandate_exceeded",
    limit: "max_input_price",
  });
  assert.equal(mandateRefusal(m, { ...offer, outputPricePerMTok: 4_000_001n })?.limit, "max_output_price");
  const open = draft({
    models: [],
    quantizations: [],
    counterparties: [],
    maxInputPricePerMTok: 0n,
    maxOutputPricePerMTok: 0n,
  });
  assert.equal(mandateRefusal(open, { ...offer, model: "x", agentId: 9n, inputPricePerMTok: 10n ** 12n }), undefined);
});
