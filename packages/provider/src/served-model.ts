import type { Price } from "@verity/core";
import type { Engine } from "@verity/engine";
import type { WorkQueue } from "./work-queue.ts";

/** A model this provider serves: the engine, its on-chain model id and the offer's prices. */
export type ServedModel = {
  /** Name clients put in `model` (the engine's name). */
  name: string;
  engine: Engine;
  modelId: bigint;
  price: Price;
  maxOutputTokens: number;
  queue: WorkQueue;
};
