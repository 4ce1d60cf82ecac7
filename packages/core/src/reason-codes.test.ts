import assert from "node:assert/strict";
import { test } from "node:test";
import * as artifacts from "@verity/contracts";
import { BaseError, PaymentError } from "./errors.ts";
import { contractErrorReason, isReasonCode, REASONS, reasonStatus, toSnakeCase } from "./reason-codes.ts";

test("snake_case conversion of contract error names", () => {
  assert.equal(toSnakeCase("VoucherSignatureInvalid"), "voucher_signature_invalid");
  assert.equal(toSnakeCase("ERC20InsufficientBalance"), "erc20_insufficient_balance");
  assert.equal(toSnakeCase("ECDSAInvalidSignature"), "ecdsa_invalid_signature");
  assert.equal(toSnakeCase("OnlyDisputes"), "only_disputes");
});

test("every reason code is snake_case with an HTTP status and a message", () => {
  for (const [code, reason] of Object.entries(REASONS)) {
    assert.match(code, /^[a-z][a-z0-9]*(_[a-z0-9]+)*$/, code);
    assert.ok(reason.status >= 400 && reason.status < 600, code);
    assert.ok(reason.message.length > 0, code);
  }
});

test("every custom error of every compiled contract has a reason code", () => {
  const missing: string[] = [];
  for (const [name, value] of Object.entries(artifacts)) {
    if (!name.endsWith("Abi")) continue;
    for (const item of value as readonly { type: string; name?: string }[]) {
      if (item.type === "error" && item.name && !isReasonCode(toSnakeCase(item.name))) missing.push(item.name);
    }
  }
  assert.deepEqual(missing, [], "run `npm run compile` to regenerate packages/core/src/contract-reasons.ts");
});

test("contract reverts map to their code; unknown ones to transaction_reverted", () => {
  assert.equal(contractErrorReason(undefined), "transaction_reverted");
  assert.equal(contractErrorReason("NotARealError"), "transaction_reverted");
  const someContractCode = Object.keys(REASONS).find(
    (c) => reasonStatus(c as never) === 422 && c !== "transaction_reverted",
  );
  assert.ok(someContractCode);
});

test("errors carry a code, a hint and a JSON body", () => {
  const error = new PaymentError("The voucher is for another channel", {
    code: "voucher_wrong_channel",
    hint: "Open a channel to this provider",
    details: { channelId: "0x01" },
  });
  assert.ok(error instanceof BaseError);
  assert.equal(reasonStatus(error.code), 402);
  assert.deepEqual(error.toJSON(), {
    error: {
      code: "voucher_wrong_channel",
      message: "The voucher is for another channel. Open a channel to this provider",
      hint: "Open a channel to this provider",
      details: { channelId: "0x01" },
    },
  });
});

test("seed-synced sampling and audit assignment have their codes", () => {
  for (const code of [
    "missing_seed",
    "seed_key_invalid",
    "seed_derivation_mismatch",
    "audit_commit_mismatch",
    "audit_not_selected",
    "transcript_hash_mismatch",
  ]) {
    assert.ok(isReasonCode(code), code);
    assert.equal(reasonStatus(code as never), 400, code);
  }
});

test("the inference oracle's refusals have their codes", () => {
  for (const code of [
    "oracle_fee_too_low",
    "oracle_deadline_passed",
    "oracle_already_answered",
    "oracle_not_staked",
    "oracle_receipt_mismatch",
    "oracle_challenge_window_closed",
    "oracle_not_refundable",
    "oracle_model_not_served",
    "oracle_prompt_unavailable",
    "oracle_answer_empty",
  ]) {
    assert.ok(isReasonCode(code), code);
  }
});
