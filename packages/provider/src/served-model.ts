import type { Price } from "@verity/core";
import type { AnnouncedManifest, Engine } from "@verity/engine";
import type { DatasetOffering } from "./dataset-offering.ts";
import type { Substitution } from "./substitute.ts";
import type { UpstreamHealth } from "./upstream-health.ts";
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
  /** Dishonest-provider mode (devnets, simulations): another engine serves a fraction of paid requests. */
  substitute?: Substitution;
  /** What an upstream-backed model pins (weights, tokenizer, quantization, engine, context). */
  manifest?: AnnouncedManifest;
  /** The upstream's health when an external engine serves the model; paid requests wait for it. */
  health?: UpstreamHealth;
  /**
   * Whether the engine samples with a request's seed key (seed-synced sampling). False for an
   * OpenAI-compatible upstream: such a model drops the seed key and signs params without it.
   */
  seedSync: boolean;
  /** A "model + dataset" offering: every request retrieves from the corpus and pays `retrieval.fee`. */
  retrieval?: DatasetOffering;
  /** Refuse paid requests without a seed key and audit commitment (`missing_seed`); seed-synced models only. */
  requireSeed?: boolean;
};
