/** Reason codes of the validator service and their HTTP statuses (all from the shared table in @verity/core). */
import { BaseError, isReasonCode, type ReasonCode, RequestError, reasonStatus } from "@verity/core";

export type ValidatorReasonCode = ReasonCode;

/** HTTP status of a reason code (500 for codes outside the shared table). */
export function validatorReasonStatus(code: string): number {
  return isReasonCode(code) ? reasonStatus(code) : 500;
}

/** A rejected audit sample. */
export class AuditRejected extends RequestError {
  override name = "AuditRejected";

  constructor(
    message: string,
    options: { code: ReasonCode; hint?: string; details?: Record<string, unknown>; cause?: unknown },
  ) {
    super(message, options);
  }
}

/** The reason code of any error (`internal_error` for errors that carry none). */
export function reasonOf(error: unknown): string {
  return error instanceof BaseError ? error.code : "internal_error";
}
