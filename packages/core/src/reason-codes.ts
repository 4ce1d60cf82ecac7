/**
 * Stable snake_case reason codes for every rejection in Verity, with the HTTP status that fits.
 * Contract custom errors map to codes by name (`VoucherSignatureInvalid` → `voucher_signature_invalid`);
 * `contract-reasons.ts` lists them and a test keeps that list equal to the compiled ABIs.
 */
import { CONTRACT_REASONS } from "./contract-reasons.ts";

export const NODE_REASONS = {
  // request shape
  invalid_json: { status: 400, message: "The request body is not valid JSON" },
  invalid_request: { status: 400, message: "The request does not match the expected shape" },
  unknown_model: { status: 404, message: "No offer serves this model" },
  prompt_too_long: { status: 413, message: "The prompt does not fit the model's context window" },
  payload_too_large: { status: 413, message: "The request body exceeds the size limit" },
  max_tokens_over_offer: { status: 400, message: "max_tokens exceeds the offer's maximum output tokens" },
  rate_limited: { status: 429, message: "Too many requests in flight; retry after the indicated delay" },
  not_found: { status: 404, message: "No such resource" },
  internal_error: { status: 500, message: "Internal error" },
  upstream_unreachable: { status: 502, message: "The upstream inference server did not answer" },
  upstream_error: { status: 502, message: "The upstream inference server answered with an error" },
  endpoint_forbidden: {
    status: 502,
    message: "The offer's endpoint is not a public http(s) address (private, loopback, link-local or reserved)",
  },
  upstream_unsupported: { status: 501, message: "The upstream inference server does not support this operation" },
  upstream_down: {
    status: 503,
    message: "The provider's upstream inference server is down; the provider takes no paid requests until it is back",
  },
  manifest_invalid: {
    status: 400,
    message: "The model manifest is missing, malformed or does not match its pinned hash",
  },
  manifest_mismatch: { status: 409, message: "The upstream serves something other than the model manifest pins" },
  // payment
  invalid_api_key: { status: 401, message: "The API key is unknown" },
  api_key_revoked: {
    status: 401,
    message: "The API key was revoked (by its owner, or because it was minted without proof)",
  },
  api_key_expired: { status: 401, message: "The API key is past the expiry its owner signed" },
  api_key_spend_limit: {
    status: 402,
    message: "The request would take the API key past the spend limit its owner signed",
  },
  api_key_model_not_allowed: { status: 403, message: "The API key's signed scope does not include this model" },
  api_key_scope_forbidden: { status: 403, message: "A scoped API key may list and revoke only itself" },
  key_proof_invalid: {
    status: 401,
    message: "The sign-in message or its signature does not prove control of the owner address for this gateway",
  },
  key_nonce_invalid: { status: 409, message: "The sign-in nonce is unknown, expired or already used" },
  key_scope_invalid: { status: 400, message: "The key scope in the sign-in message is malformed or unknown" },
  insufficient_balance: { status: 402, message: "The prepaid balance does not cover the request" },
  no_offer_for_model: { status: 404, message: "No provider offers this model" },
  no_offer_for_quantization: { status: 404, message: "No provider of this model announces the requested quantization" },
  no_provider_matches: {
    status: 404,
    message: "No provider of this model meets the request's provider preferences (details name what excluded whom)",
  },
  provider_preferences_invalid: { status: 400, message: "The request's provider object is malformed" },
  all_above_max_price: { status: 402, message: "Every offer for this model is above the price cap" },
  all_unhealthy: { status: 503, message: "No healthy provider can take this request right now" },
  insufficient_escrow: { status: 503, message: "The gateway cannot pay a provider for this request" },
  all_providers_failed: { status: 502, message: "Every provider tried failed this request" },
  payment_required: { status: 402, message: "This request needs a voucher" },
  voucher_malformed: { status: 400, message: "The voucher header is not valid base64 JSON of the expected shape" },
  voucher_signer_mismatch: { status: 402, message: "The voucher is not signed by the channel's payer authorizer" },
  voucher_wrong_channel: { status: 402, message: "The voucher's channel is not open to this provider and model" },
  voucher_not_monotonic: { status: 409, message: "The voucher's cumulative amount is not above the charged total" },
  voucher_replayed: { status: 409, message: "This voucher was already used" },
  voucher_exceeds_escrow: { status: 402, message: "The voucher's cumulative amount exceeds the channel's escrow" },
  voucher_below_ceiling: { status: 402, message: "The voucher does not cover the request's maximum charge" },
  channel_withdrawing: { status: 402, message: "The channel is withdrawing and too close to its withdraw time" },
  wrong_chain: { status: 400, message: "The payment is for another chain or contract" },
  receipt_invalid: { status: 502, message: "The provider's receipt did not verify" },
  overcharged: { status: 502, message: "The provider charged more than usage × price" },
  receipt_timestamp_invalid: {
    status: 502,
    message: "The provider's receipt is timestamped outside the allowed skew of the client's clock",
  },
  transcript_invalid: {
    status: 502,
    message: "The provider's answer carries no token transcript matching its receipt, so it cannot be audited",
  },
  // x402 (keyless pay-per-request at the gateway)
  x402_payment_required: { status: 402, message: "This request needs an x402 payment (PAYMENT-SIGNATURE header)" },
  x402_payment_invalid: { status: 402, message: "The x402 payment is malformed or does not verify" },
  x402_payment_expired: { status: 402, message: "The x402 payment authorization has expired" },
  x402_insufficient_amount: { status: 402, message: "The x402 payment is for less than the required amount" },
  x402_insufficient_funds: { status: 402, message: "The payer's token balance does not cover the x402 payment" },
  x402_payment_replayed: { status: 402, message: "This x402 payment authorization was already used" },
  x402_payment_in_flight: {
    status: 409,
    message: "This x402 payment authorization is being used by another request right now",
  },
  x402_settlement_failed: { status: 502, message: "The x402 payment verified but could not be settled on chain" },
  x402_settlement_pending: {
    status: 504,
    message: "The x402 settlement was sent but not confirmed in time; the answer is withheld and the payment kept",
  },
  x402_wrong_network: {
    status: 402,
    message: "The x402 payment is for another network than the one this seller settles on",
  },
  x402_scheme_unavailable: {
    status: 402,
    message:
      "This seller does not accept that x402 scheme on this chain (upto needs Permit2 and the x402 upto proxy deployed)",
  },
  x402_channel_state_mismatch: {
    status: 402,
    message:
      "The batch-settlement voucher's cumulative base differs from the gateway's record of the channel; resync from the channel state in PAYMENT-REQUIRED",
  },
  x402_channel_busy: {
    status: 409,
    message: "Another request on this batch-settlement channel is being answered; send the next voucher after it",
  },
  x402_channel_underfunded: {
    status: 402,
    message: "The batch-settlement channel's deposit does not cover this voucher; deposit more",
  },
  x402_channel_withdrawing: {
    status: 402,
    message: "The payer started withdrawing this batch-settlement channel; open or top up another",
  },
  // client SDK (routing and spending limits)
  offer_over_max_price: { status: 404, message: "No offer for this model is within the price limit" },
  no_healthy_offer: { status: 503, message: "Every offer for this model is unhealthy or its provider is flagged" },
  ceiling_over_cap: { status: 402, message: "The request's maximum charge exceeds the client's per-request cap" },
  no_channel_headroom: { status: 402, message: "No open channel to this provider has headroom for the request" },
  request_aborted: { status: 499, message: "The caller aborted the request" },
  // spend mandates
  mandate_invalid: {
    status: 400,
    message: "The spend mandate is malformed, for another chain or spender, or not signed by its owner",
  },
  mandate_expired: { status: 403, message: "The spend mandate is not valid at this time (expired or not yet valid)" },
  mandate_not_allowed: {
    status: 403,
    message: "The spend mandate does not allow this model, quantization or counterparty",
  },
  mandate_exceeded: {
    status: 402,
    message: "The payment would exceed a limit of the spend mandate (per call, hour, day, total or unit price)",
  },
  // seed-synced sampling and audit assignment (provider: a request's seed; validator: an audit's reveal)
  missing_seed: {
    status: 400,
    message: "The request or audit carries no seed key (or no audit secret) where seed-synced sampling requires one",
  },
  seed_key_invalid: { status: 400, message: "The seed key or audit commitment is not 0x-prefixed 32-byte hex" },
  seed_derivation_mismatch: {
    status: 400,
    message: "The receipt's seed key is not the one derived from the chain, channel, voucher amount and audit secret",
  },
  audit_commit_mismatch: {
    status: 400,
    message: "The revealed audit secret does not hash to the audit commitment in the receipt's params",
  },
  audit_not_selected: {
    status: 400,
    message: "The receipt was not selected for audit by the commit-reveal draw under the stated policy",
  },
  transcript_hash_mismatch: {
    status: 400,
    message: "The transcript's token ids or sampling parameters do not hash to the receipt's commitments",
  },
  // A2A agents
  agent_card_invalid: {
    status: 422,
    message:
      "The agent card is unsigned, malformed, or its signature is not by the key registered on chain for its agent id",
  },
  agent_skill_unknown: {
    status: 404,
    message: "The agent offers no such skill (or no agent offers it within the bounds)",
  },
  agent_no_output: {
    status: 502,
    message: "The agent's handler returned nothing for the task; nothing was charged and the voucher stays unused",
  },
  agent_payment_required: {
    status: 402,
    message: "The task was not paid: send a Verity voucher (or x402 payment) for the skill's price with the message",
  },
  // retrieval-augmented serving (provider: start-up checks of a "model + dataset" offering; validator: replay)
  dataset_digest_mismatch: {
    status: 400,
    message: "The local corpus file does not hash to the dataset's digest in the DatasetRegistry",
  },
  dataset_not_credited: {
    status: 400,
    message: "The offering's model does not credit the dataset it retrieves from, so claims would not pay it",
  },
  retrieval_mismatch: {
    status: 422,
    message: "The receipt's retrieval record does not match a re-run of the retrieval over the dataset",
  },
  // validator (audit intake)
  audit_sample_invalid: { status: 400, message: "The audit sample does not match the expected transcript shape" },
  model_not_served: { status: 422, message: "The model is registered but this validator does not run it" },
  wrong_deployment: { status: 400, message: "The sample is for another deployment's PaymentChannels contract" },
  // validator (pooled evidence: committee vote reasons; never evidence against a provider on their own)
  pooled_chain_mismatch: {
    status: 422,
    message: "The pooled evidence's audit log does not link its chain heads (an audit was dropped or changed)",
  },
  pooled_too_many_audits: { status: 422, message: "The pooled evidence lists more audits than the test allows" },
  pooled_unseeded: { status: 422, message: "A pooled audit has no seeded summary this validator could recompute" },
  pooled_receipt_not_provider: {
    status: 422,
    message: "A pooled receipt is not signed for the disputed provider's channel",
  },
  covered_by_single_challenge: {
    status: 409,
    message: "An audit of the pooled segment is already challenged on its own",
  },
  // validator (tool-call quality of an audited answer; scores reputation, never slashes)
  tool_call_invalid_json: { status: 422, message: "A tool call in the answer is not valid JSON" },
  tool_call_unknown_tool: { status: 422, message: "A tool call names a function the request did not offer" },
  tool_call_schema_violation: {
    status: 422,
    message: "A tool call's arguments do not validate against the tool's JSON schema",
  },
  tool_call_feedback_unpaid: {
    status: 409,
    message:
      "The validator has not paid this provider through a channel yet, so the reputation registry would refuse its tool-call feedback",
  },
  // configuration and chain access
  invalid_parameter: { status: 400, message: "A parameter is malformed or out of range" },
  key_in_argv: {
    status: 400,
    message: "A private key was passed on the command line, where every user of the machine can read it",
  },
  keystore_password_invalid: { status: 400, message: "The keystore password is wrong (the MAC does not match)" },
  rpc_unreachable: { status: 503, message: "The JSON-RPC endpoint did not answer" },
  gateway_unreachable: { status: 502, message: "The gateway URL did not answer /health with its address" },
  chain_id_mismatch: { status: 400, message: "The chain id differs from the expected one" },
  account_unfunded: { status: 400, message: "The account has not enough native currency for gas" },
  deployment_not_found: { status: 404, message: "The deployment file or contract code is missing" },
  deployment_mismatch: { status: 400, message: "The deployment file does not match the chain" },
  deployment_outdated: {
    status: 400,
    message: "The deployment file predates a contract this command needs (GatewayDeposits); redeploy",
  },
  transaction_reverted: { status: 422, message: "The transaction reverted" },
  port_in_use: { status: 409, message: "The port is already in use" },
  state_dir_chain_mismatch: { status: 409, message: "The state directory holds another chain's state" },
  state_replay_mismatch: { status: 500, message: "Replaying the chain journal did not reproduce the recorded head" },
  // the inference oracle node (contract refusals such as oracle_fee_too_low come from InferenceOracle)
  oracle_model_not_served: { status: 404, message: "This oracle node serves no offer for the request's model" },
  oracle_prompt_unavailable: {
    status: 422,
    message: "The request's prompt is neither inline nor at an http(s) URI whose content matches its hash",
  },
  oracle_answer_empty: { status: 502, message: "The model produced an empty answer, which the oracle does not accept" },
  // the gateway's database
  database_unreachable: {
    status: 503,
    message: "The gateway's database (--database) did not answer or refused the connection",
  },
  database_schema_newer: {
    status: 409,
    message: "The database's schema is newer than this replica knows; this replica is older than the database",
  },
  // portable user context (signed, encrypted, versioned; resolved by the SDK)
  context_signature_invalid: {
    status: 401,
    message: "The context version is not signed by the owner it names",
  },
  context_version_stale: {
    status: 409,
    message: "The context version is not above the latest one stored or seen (a rollback or a lost race)",
  },
  context_chain_broken: {
    status: 409,
    message:
      "The context version does not follow the previous one (its version or previous-record hash does not chain)",
  },
  context_content_mismatch: { status: 422, message: "The context blob does not hash to the content its version signs" },
  context_blob_missing: { status: 409, message: "The context version's encrypted blob is not stored" },
  context_too_large: { status: 413, message: "The encrypted context blob exceeds the store's size limit" },
  context_not_found: { status: 404, message: "No context version is stored for this owner (or this version)" },
  context_decrypt_failed: {
    status: 400,
    message: "The context blob does not decrypt with this key (another key, or an altered blob)",
  },
  context_unresolved: {
    status: 400,
    message: "The request carries a verity_context reference; the SDK resolves it client-side before sending",
  },
} as const satisfies Record<string, { status: number; message: string }>;

export const REASONS = { ...CONTRACT_REASONS, ...NODE_REASONS } as const;

export type ReasonCode = keyof typeof REASONS;

export function isReasonCode(value: string): value is ReasonCode {
  return Object.hasOwn(REASONS, value);
}

/** HTTP status that fits a reason code. */
export function reasonStatus(code: ReasonCode): number {
  return REASONS[code].status;
}

/** `VoucherSignatureInvalid` → `voucher_signature_invalid` (how contract errors become codes). */
export function toSnakeCase(name: string): string {
  return name
    .replace(/([a-z0-9])([A-Z])/g, "$1_$2")
    .replace(/([A-Z]+)([A-Z][a-z])/g, "$1_$2")
    .toLowerCase();
}

/** The reason code of a contract custom error, or `transaction_reverted` when it is not one of ours. */
export function contractErrorReason(errorName: string | undefined): ReasonCode {
  if (!errorName) return "transaction_reverted";
  const code = toSnakeCase(errorName);
  return isReasonCode(code) ? code : "transaction_reverted";
}
