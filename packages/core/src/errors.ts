import type { ReasonCode } from "./reason-codes.ts";

export type BaseErrorOptions = {
  /** Stable snake_case reason code shared by contracts, nodes and the SDK. */
  code: ReasonCode;
  /** One sentence on what the caller can do about it. */
  hint?: string;
  /** Structured details safe to show a caller (no secrets). */
  details?: Record<string, unknown>;
  cause?: unknown;
};

/**
 * The one error class of Verity. Every domain has a subclass; every instance carries a reason code
 * that maps to an HTTP status (`reasonStatus`) and a hint that says what to do next.
 */
export class BaseError extends Error {
  override name = "VerityError";
  readonly code: ReasonCode;
  readonly hint: string | undefined;
  readonly details: Record<string, unknown>;

  constructor(message: string, options: BaseErrorOptions) {
    super(options.hint ? `${message}. ${options.hint}` : message, { cause: options.cause });
    this.code = options.code;
    this.hint = options.hint;
    this.details = options.details ?? {};
  }

  /** JSON body used by every HTTP service: `{ error: { code, message, hint?, details? } }`. */
  toJSON(): { error: { code: ReasonCode; message: string; hint?: string; details?: Record<string, unknown> } } {
    return {
      error: {
        code: this.code,
        message: this.message,
        ...(this.hint ? { hint: this.hint } : {}),
        ...(Object.keys(this.details).length > 0 ? { details: this.details } : {}),
      },
    };
  }
}

/** Bad configuration or parameters given to a command or service. */
export class ConfigError extends BaseError {
  override name = "ConfigError";
}

/** Chain access: RPC unreachable, wrong chain, unfunded account, reverted transaction. */
export class ChainError extends BaseError {
  override name = "ChainError";
}

/** A payment (voucher, channel, receipt) was rejected. */
export class PaymentError extends BaseError {
  override name = "PaymentError";
}

/** A request was malformed or asked for something that cannot be served. */
export class RequestError extends BaseError {
  override name = "RequestError";
}

/** An API key or its proof was refused: unknown, revoked, expired, out of scope, or a bad sign-in. */
export class AuthError extends BaseError {
  override name = "AuthError";
}

/** The gateway's database: unreachable, or migrated by a newer build. */
export class StorageError extends BaseError {
  override name = "StorageError";
}
