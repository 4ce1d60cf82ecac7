/**
 * Deterrence simulation (`npm run sim`): a real devnet in-process (EDR chain, contracts, providers
 * on the tiny test models, four validators), some providers honest and some substituting a cheaper
 * model on a fraction of requests. A Verity SDK client pays for every request, samples answers for
 * audit with probability p and posts them to a validator; failed audits become on-chain challenges
 * decided by a committee. A keeper skips chain time through the commit and reveal windows.
 *
 * Ground truth comes from the cheaters themselves (which answers their substitute generated, by
 * receipt hashes). Reports, one JSON line per figure on stdout (progress on stderr): detection per
 * audit, false positives on honest answers, requests until a cheater is slashed, validator compute
 * as a share of provider compute (at the simulated p and at the devnet default), client funds lost
 * net of refunds, and the expected penalty per cheated request against the saving. See
 * docs/DETERRENCE.md.
 *   npm run sim -- [--requests 600] [--p 0.1] [--cheat-rate 0.5] [--cheat-model test:verity-tiny-q4]
 *                  [--honest 2] [--cheaters 3] [--seed 1] [--max-tokens 300] [--sweep 150]
 * `--sweep N` re-audits every cheater answer and N honest answers offline afterwards (0: off).
 * The expected penalty uses the value-weighted audit probability p(f) = min(1, pBase + f /
 * alwaysAuditAbove); pooled detection (SPRT) and the economics over many requests are modelled
 * without a chain in bench/deterrence-model.ts.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { cpus, tmpdir } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { createVerityClient } from "@verity/sdk";
import { privateKeyToAccount } from "viem/accounts";
import { createDevnet, DEVNET_AUDIT_P } from "../packages/cli/src/devnet/devnet.ts";
import { createProgress } from "../packages/cli/src/progress.ts";
import { makePrompt } from "../packages/validator/src/calibrate.ts";
import { auditProbability, DEFAULT_ECONOMICS } from "./sim-economics.ts";
import { createDisputeKeeper, type Verdict } from "./sim-keeper.ts";
import { benchLine, promSum, proportion, seededRandom } from "./sim-stats.ts";
import { generationCost, sweepVerdicts } from "./sim-sweep.ts";

const { values } = parseArgs({
  options: {
    requests: { type: "string", default: "600" },
    p: { type: "string", default: "0.1" },
    "cheat-rate": { type: "string", default: "0.5" },
    "cheat-model": { type: "string", default: "test:verity-tiny-q4" },
    honest: { type: "string", default: "2" },
    cheaters: { type: "string", default: "3" },
    seed: { type: "string", default: "1" },
    "max-tokens": { type: "string", default: "300" },
    sweep: { type: "string", default: "150" },
  },
});
const REQUESTS = Number(values.requests);
const P = Number(values.p);
const CHEAT_RATE = Number(values["cheat-rate"]);
const CHEAT_MODEL = values["cheat-model"];
const HONEST = Number(values.honest);
const CHEATERS = Number(values.cheaters);
const SEED = Number(values.seed);
const MAX_TOKENS = Number(values["max-tokens"]);
const SWEEP_HONEST = Number(values.sweep);
/** TUSD from which every request is audited (the deterrence model's default; docs/DETERRENCE.md). */
const ALWAYS_AUDIT_ABOVE = DEFAULT_ECONOMICS.alwaysAuditAbove;
const TARGETS = { detection: 0.99, falsePositives: 0.001, computeShare: 0.03 };

const progress = createProgress();
const say = (line: string) => progress.info(line);
const dir = mkdtempSync(join(tmpdir(), "verity-sim-"));
const started = performance.now();

type Answer = {
  agentId: string;
  cheater: boolean;
  requestId: string;
  promptHash: string;
  outputHash: string;
  charge: bigint;
  completionTokens: number;
  ms: number;
};

const devnet = createDevnet({
  stateDir: join(dir, "devnet"),
  fresh: true,
  port: 0,
  providers: HONEST + CHEATERS,
  cheaters: CHEATERS,
  cheatModel: CHEAT_MODEL,
  cheatRate: CHEAT_RATE,
  auditP: P,
  progress,
  onEvent: (e) => {
    if (e.event === "audit" && e.pass === false) say(`  ${e.validator}: audit failed (${String(e.reasons)})`);
    else if (e.event === "challenge_opened") say(`  ${e.validator ?? ""}: challenge ${e.disputeId} opened`);
    else if (e.event === "challenge_rejected")
      say(`  ${e.validator ?? ""}: challenge of ${e.auditId} refused (${e.code})`);
    else if (e.event === "warning") say(`  warning: ${e.message}`);
  },
});

let exitCode = 0;
try {
  const ready = await devnet.start();
  const deployment = ready.deployment;
  const validatorUrl = ready.audit.validatorUrl;
  if (!validatorUrl) throw new Error("the devnet started no validator");
  const offers = [...new Map(ready.providers.map((p) => [p.agentId, p])).values()];
  const cheaterIds = new Set(offers.filter((o) => o.cheater).map((o) => o.agentId));
  say(
    `devnet ready in ${ready.startMs} ms: ${offers.length} providers (${cheaterIds.size} cheating at rate ${CHEAT_RATE} with ${CHEAT_MODEL}), ${ready.validators.length} validators, p = ${P}`,
  );

  // The client: a devnet client account paying with the SDK, sampling with p for the first validator.
  const clientAccount = ready.accounts.find((a) => a.name === "client-2");
  if (!clientAccount) throw new Error("the devnet has no client-2 account");
  const sampled = new Map<string, string>(); // requestId → agentId
  const client = createVerityClient({
    rpcUrl: ready.rpcUrl,
    deployment,
    account: privateKeyToAccount(clientAccount.privateKey),
    stateDir: join(dir, "client"),
    indexerPollMs: 200,
    autoOpen: { amount: 20_000_000n },
    audit: {
      p: P,
      validatorUrl,
      onSample: (s) => sampled.set(s.receipt.receipt.requestId.toLowerCase(), s.agentId),
    },
    onError: (error) => say(`  client: ${(error as Error)?.message ?? error}`),
  });
  await client.start();
  // One channel per provider up front (one payer key: concurrent opens would race for nonces).
  await progress.step(`open a payment channel to each of the ${offers.length} providers`, async () => {
    for (const o of offers) {
      await client.openChannel({ agentId: BigInt(o.agentId), modelId: BigInt(o.modelId), amount: 20_000_000n });
    }
  });

  // Cheater requests served so far, read when a guilty verdict lands.
  const servedBy = new Map<string, number>();
  const slashedAfter = new Map<string, number>(); // agentId → cheater requests served before its first guilty verdict
  const keeper = createDisputeKeeper({
    rpcUrl: ready.rpcUrl,
    deployment,
    onInfo: say,
    onVerdict: (v: Verdict) => {
      say(
        `  dispute ${v.disputeId} on agent ${v.agentId}: ${v.guilty ? "GUILTY" : "not guilty"} (slashed ${v.slashed}, refunded ${v.refunded})`,
      );
      if (v.guilty && !slashedAfter.has(v.agentId)) slashedAfter.set(v.agentId, servedBy.get(v.agentId) ?? 0);
    },
  });
  keeper.start();

  // Traffic: one sequential loop per provider drawing from a shared pool of requests. A loop ends
  // when its provider can no longer be routed to (a slashed cheater's offers are paused).
  const random = seededRandom(SEED);
  const answers: Answer[] = [];
  let issued = 0;
  let failures = 0;
  const trafficStarted = performance.now();
  async function drive(agentId: string) {
    let consecutiveFailures = 0;
    while (issued < REQUESTS && consecutiveFailures < 3) {
      const i = issued++;
      const greedy = random() < 1 / 3;
      const t0 = performance.now();
      try {
        const completion = await client.chat.completions.create(
          {
            model: "verity-tiny",
            messages: [{ role: "user", content: `${makePrompt(SEED * 100_000 + i)}` }],
            max_tokens: MAX_TOKENS,
            temperature: greedy ? 0 : 1,
            seed: Math.floor(random() * 2 ** 31),
          },
          { agentId: BigInt(agentId) },
        );
        const receipt = completion.verity.receipt;
        answers.push({
          agentId,
          cheater: cheaterIds.has(agentId),
          requestId: completion.verity.requestId.toLowerCase(),
          promptHash: receipt.promptHash,
          outputHash: receipt.outputHash,
          charge: BigInt(completion.verity.charge),
          completionTokens: completion.usage.completion_tokens,
          ms: performance.now() - t0,
        });
        servedBy.set(agentId, (servedBy.get(agentId) ?? 0) + 1);
        consecutiveFailures = 0;
      } catch (error) {
        issued--; // give the request back to the pool
        failures++;
        consecutiveFailures++;
        const slashed = slashedAfter.has(agentId);
        say(`  agent ${agentId}${slashed ? " (slashed)" : ""}: ${(error as Error)?.message?.split("\n")[0]}`);
        if (slashed) return;
        await new Promise((r) => setTimeout(r, 500));
      }
      if (answers.length % 50 === 0 && answers.length > 0) {
        say(
          `  ${answers.length}/${REQUESTS} paid requests, ${sampled.size} sampled, ${keeper.verdicts().length} verdicts (${Math.round((performance.now() - trafficStarted) / 1000)} s)`,
        );
      }
    }
  }
  await progress.step(`drive ${REQUESTS} paid requests (max_tokens ${MAX_TOKENS})`, () =>
    Promise.all(offers.map((o) => drive(o.agentId))),
  );
  const trafficSeconds = (performance.now() - trafficStarted) / 1000;

  // Let the audits drain and the open disputes resolve (the keeper skips their windows).
  await progress.step("wait for the audits and disputes to settle", async () => {
    await client.audits.flush();
    const deadline = performance.now() + 120_000;
    while (performance.now() < deadline) {
      const health = (await (await fetch(`${validatorUrl.replace(/\/v1\/audits$/, "")}/health`)).json()) as {
        queueDepth: number;
      };
      const pending = (await client.audits.entries("pending")).length;
      const open = await keeper.openDisputes();
      if (health.queueDepth === 0 && pending === 0 && open === 0) return;
      await new Promise((r) => setTimeout(r, 1_000));
    }
    say("  gave up waiting after 120 s; figures use what settled");
  });
  await keeper.stop();

  // Ground truth and audit outcomes.
  const substituted = new Set(devnet.substitutedAnswers().map((a) => `${a.promptHash}:${a.outputHash}`.toLowerCase()));
  const isSubstituted = (a: Answer) => a.cheater && substituted.has(`${a.promptHash}:${a.outputHash}`.toLowerCase());
  const byRequest = new Map(answers.map((a) => [a.requestId, a]));
  type Record_ = {
    requestId: string;
    status: string;
    compute: { tokens: number; seconds: number };
    verdict: { reasons?: string[] } | null;
  };
  const records = ((await (await fetch(`${validatorUrl}?limit=1000`)).json()) as { data: Record_[] }).data.filter(
    (r) => r.status === "passed" || r.status === "failed",
  );
  let subAudits = 0;
  let subFailed = 0;
  let honestAudits = 0;
  let honestFailed = 0;
  const fpReasons: string[] = [];
  for (const r of records) {
    const answer = byRequest.get(r.requestId.toLowerCase());
    if (!answer) continue;
    if (isSubstituted(answer)) {
      subAudits++;
      if (r.status === "failed") subFailed++;
    } else {
      honestAudits++;
      if (r.status === "failed") {
        honestFailed++;
        fpReasons.push(...(r.verdict?.reasons ?? []));
      }
    }
  }
  const detection = proportion(subFailed, subAudits);
  const fp = proportion(honestFailed, honestAudits);

  // Compute: validators' re-scoring (intake audits and committee re-audits) against the providers' serving time.
  let intakeSeconds = 0;
  let committeeSeconds = 0;
  let validatorTokens = 0;
  for (const v of ready.validators) {
    const h = (await (await fetch(`${v.url}/health`)).json()) as {
      compute: { intake: { seconds: number; tokens: number }; committee: { seconds: number; tokens: number } };
    };
    intakeSeconds += h.compute.intake.seconds;
    committeeSeconds += h.compute.committee.seconds;
    validatorTokens += h.compute.intake.tokens + h.compute.committee.tokens;
  }
  let providerSeconds = 0;
  let providerTokens = 0;
  for (const o of offers) {
    const text = await (await fetch(`${o.url}/metrics`)).text();
    providerSeconds += promSum(text, "verity_provider_request_seconds_sum");
    providerTokens += promSum(text, "verity_provider_tokens_total");
  }
  const shareAtP = (intakeSeconds + committeeSeconds) / providerSeconds;
  const intakePerAudit = records.length > 0 ? intakeSeconds / records.length : 0;
  const providerPerRequest = providerSeconds / Math.max(1, answers.length);
  const shareAtDefault = (DEVNET_AUDIT_P * intakePerAudit) / providerPerRequest;

  // Money: what the client paid for substituted answers against the refunds it received.
  const payer = clientAccount.address.toLowerCase();
  const subAnswers = answers.filter(isSubstituted);
  const paidForSubstituted = subAnswers.reduce((s, a) => s + a.charge, 0n);
  const verdicts = keeper.verdicts();
  const refunds = verdicts
    .filter((v) => v.guilty && v.payer.toLowerCase() === payer)
    .reduce((s, v) => s + v.refunded, 0n);
  const netLost = paidForSubstituted - refunds;
  const decimals = 10 ** deployment.token.decimals;

  // Expected value per cheated request: p · d · (S + f) against the saving s.
  const slash = Number(deployment.params.slashAmount ?? "100000000") / decimals;
  const cheaterAnswers = answers.filter((a) => a.cheater);
  const fee = cheaterAnswers.reduce((s, a) => s + Number(a.charge), 0) / Math.max(1, cheaterAnswers.length) / decimals;
  // The saving: generation time of the claimed model against the substitute on the same prompts
  // (engines alone, one at a time), priced at the fee: s = f · (1 − t_substitute / t_model).
  const cost = await progress.step("time generation: claimed model against the substitute", () =>
    generationCost({
      modelSpec: "test:verity-tiny",
      substituteSpec: CHEAT_MODEL,
      prompts: Array.from({ length: 12 }, (_, i) => makePrompt(SEED * 100_000 + 50_000 + i)),
      maxTokens: MAX_TOKENS,
    }),
  );
  const tHonest = cost.msPerTokenModel;
  const tSub = cost.msPerTokenSubstitute;
  const savingShare = Math.max(0, 1 - tSub / tHonest);
  const saving = fee * savingShare;

  // Verdict sweep: every cheater answer and a share of the honest ones, re-audited offline with the
  // validators' verdict (after the compute figures above were read, so it does not count there).
  const stored = await client.transcripts({ limit: 100_000 });
  const truth = new Map(answers.map((a) => [a.requestId, isSubstituted(a)]));
  const cheaterTranscripts = stored.filter((t) => cheaterIds.has(t.agentId.toString()));
  const honestTranscripts = stored.filter((t) => !cheaterIds.has(t.agentId.toString())).slice(0, SWEEP_HONEST);
  const toSweep = SWEEP_HONEST > 0 ? [...cheaterTranscripts, ...honestTranscripts] : [];
  const swept =
    toSweep.length === 0
      ? []
      : await progress.step(`re-audit ${toSweep.length} answers offline (verdict sweep)`, () =>
          sweepVerdicts({
            transcripts: toSweep,
            deployment,
            modelSpec: "test:verity-tiny",
            suspectSpec: CHEAT_MODEL,
            onProgress: (n) => say(`  ${n}/${toSweep.length} re-audited`),
          }),
        );
  const sweptSub = swept.filter((r) => truth.get(r.requestId) === true);
  const sweptHonest = swept.filter((r) => truth.get(r.requestId) === false);
  const sweepDetection = proportion(sweptSub.filter((r) => !r.pass).length, sweptSub.length);
  const sweepDetectionSuspect = proportion(sweptSub.filter((r) => r.passWithSuspect === false).length, sweptSub.length);
  const sweepFp = proportion(sweptHonest.filter((r) => !r.pass).length, sweptHonest.length);
  const sweepFpSuspect = proportion(sweptHonest.filter((r) => r.passWithSuspect === false).length, sweptHonest.length);

  // d for the expected value: the larger of the two samples of the same verdict.
  const dSource = sweepDetection.n > detection.n ? sweepDetection : detection;
  const d = dSource.rate ?? 0;
  // Value-weighted assignment: p(f) = min(1, pBase + f / alwaysAuditAbove) (never below pBase).
  const pAtFee = auditProbability({ charge: fee, pBase: DEVNET_AUDIT_P, alwaysAuditAbove: ALWAYS_AUDIT_ABOVE });
  const penaltyDefault = pAtFee * d * (slash + fee);
  const penaltyAtP = P * d * (slash + fee);

  const common = {
    p: P,
    requests: answers.length,
    honest: HONEST,
    cheaters: CHEATERS,
    cheatRate: CHEAT_RATE,
    cheatModel: CHEAT_MODEL,
    maxTokens: MAX_TOKENS,
    seed: SEED,
    cores: cpus().length,
  };
  const bench = "deterrence";
  const ci = (x: { low: number; high: number }) => [Number(x.low.toFixed(4)), Number(x.high.toFixed(4))];
  benchLine({
    bench,
    metric: "detection_per_audit",
    value: detection.rate,
    unit: "fraction",
    baseline: TARGETS.detection,
    extra: { failed: subFailed, audits: subAudits, ci95: ci(detection), ...common },
  });
  benchLine({
    bench,
    metric: "detection_per_audit_sweep",
    value: sweepDetection.rate,
    unit: "fraction",
    baseline: TARGETS.detection,
    extra: {
      failed: sweepDetection.hits,
      audits: sweepDetection.n,
      ci95: ci(sweepDetection),
      withSuspect: sweepDetectionSuspect.rate,
      withSuspectCi95: ci(sweepDetectionSuspect),
      suspect: CHEAT_MODEL,
      ...common,
    },
  });
  benchLine({
    bench,
    metric: "false_positive_rate_sweep",
    value: sweepFp.rate,
    unit: "fraction",
    baseline: TARGETS.falsePositives,
    extra: {
      failed: sweepFp.hits,
      audits: sweepFp.n,
      reasons: sweptHonest.filter((r) => !r.pass).flatMap((r) => r.reasons),
      ci95: ci(sweepFp),
      withSuspect: sweepFpSuspect.rate,
      withSuspectCi95: ci(sweepFpSuspect),
      ...common,
    },
  });
  benchLine({
    bench,
    metric: "false_positive_rate",
    value: fp.rate,
    unit: "fraction",
    baseline: TARGETS.falsePositives,
    extra: { failed: honestFailed, audits: honestAudits, ci95: ci(fp), reasons: fpReasons, ...common },
  });
  for (const id of cheaterIds) {
    const until = slashedAfter.get(id);
    benchLine({
      bench,
      metric: "requests_until_slashed",
      value: until ?? null,
      unit: "requests",
      baseline: null,
      extra: {
        agentId: id,
        slashed: until !== undefined,
        servedTotal: servedBy.get(id) ?? 0,
        expected: d > 0 ? Math.round(1 / (P * CHEAT_RATE * d)) : null,
        ...common,
      },
    });
  }
  benchLine({
    bench,
    metric: "validator_compute_share_at_sim_p",
    value: shareAtP,
    unit: "fraction",
    baseline: TARGETS.computeShare,
    extra: {
      intakeSeconds: Number(intakeSeconds.toFixed(3)),
      committeeSeconds: Number(committeeSeconds.toFixed(3)),
      providerSeconds: Number(providerSeconds.toFixed(3)),
      validatorTokens,
      providerTokens,
      audits: records.length,
      ...common,
    },
  });
  benchLine({
    bench,
    metric: "validator_compute_share_at_default_p",
    value: shareAtDefault,
    unit: "fraction",
    baseline: TARGETS.computeShare,
    extra: {
      defaultP: DEVNET_AUDIT_P,
      intakeSecondsPerAudit: Number(intakePerAudit.toFixed(4)),
      providerSecondsPerRequest: Number(providerPerRequest.toFixed(4)),
      ...common,
    },
  });
  benchLine({
    bench,
    metric: "client_funds_lost_net_of_refunds",
    value: Number(netLost) / decimals,
    unit: "TUSD",
    baseline: 0,
    extra: {
      paidForSubstituted: Number(paidForSubstituted) / decimals,
      substitutedAnswers: subAnswers.length,
      refunds: Number(refunds) / decimals,
      guiltyVerdicts: verdicts.filter((v) => v.guilty).length,
      notGuiltyVerdicts: verdicts.filter((v) => !v.guilty).length,
      ...common,
    },
  });
  benchLine({
    bench,
    metric: "expected_penalty_per_cheated_request_at_default_p",
    value: penaltyDefault,
    unit: "TUSD",
    baseline: saving > 0 ? saving : fee,
    extra: {
      formula: "p(f)*d*(S+f) vs s, p(f) = min(1, pBase + f/alwaysAuditAbove)",
      defaultP: DEVNET_AUDIT_P,
      pAtFee,
      alwaysAuditAbove: ALWAYS_AUDIT_ABOVE,
      d,
      dFrom: dSource === detection ? "live audits" : "verdict sweep",
      slashS: slash,
      feeF: fee,
      savingS: saving,
      savingShareOfFee: Number(savingShare.toFixed(4)),
      // Worst case for deterrence: the substitute costs nothing, so the whole fee is saved (s = f).
      ratioIfSavingIsWholeFee: fee > 0 ? Number((penaltyDefault / fee).toFixed(1)) : null,
      penaltyAtSimP: penaltyAtP,
      msPerTokenHonest: Number(tHonest.toFixed(3)),
      msPerTokenSubstitute: Number(tSub.toFixed(3)),
      ...common,
    },
  });
  say(
    [
      "",
      `traffic: ${answers.length} paid requests in ${trafficSeconds.toFixed(0)} s (${failures} refused), ${subAnswers.length} substituted; ${records.length} audits; keeper skipped ${keeper.advancedSeconds()} s of chain time`,
      `detection per audit: ${subFailed}/${subAudits}${detection.rate === null ? "" : ` = ${(detection.rate * 100).toFixed(1)} % (95 % CI ${(detection.low * 100).toFixed(1)}–${(detection.high * 100).toFixed(1)} %)`}`,
      `verdict sweep: detection ${sweepDetection.hits}/${sweepDetection.n} (${sweepDetectionSuspect.hits} with the ${CHEAT_MODEL} suspect test), false positives ${sweepFp.hits}/${sweepFp.n} (${sweepFpSuspect.hits} with the suspect test)`,
      `false positives: ${honestFailed}/${honestAudits}${fp.rate === null ? "" : ` = ${(fp.rate * 100).toFixed(2)} % (95 % CI up to ${(fp.high * 100).toFixed(2)} %)`}`,
      `requests until slashed: ${[...cheaterIds].map((id) => `agent ${id}: ${slashedAfter.get(id) ?? "not slashed"}`).join(", ")}`,
      `validator compute: ${(shareAtP * 100).toFixed(2)} % of provider compute at p = ${P}; ${(shareAtDefault * 100).toFixed(2)} % at p = ${DEVNET_AUDIT_P}`,
      `client funds lost net of refunds: ${Number(netLost) / decimals} TUSD (paid ${Number(paidForSubstituted) / decimals} for substituted answers, refunded ${Number(refunds) / decimals})`,
      `expected penalty per cheated request at p = ${DEVNET_AUDIT_P}: ${penaltyDefault.toFixed(4)} TUSD vs saving ${saving.toExponential(3)} TUSD (fee ${fee.toExponential(3)}; generation ${tHonest.toFixed(2)} ms/token claimed, ${tSub.toFixed(2)} ms/token substitute)`,
      `total ${((performance.now() - started) / 1000).toFixed(0)} s`,
    ].join("\n"),
  );
  await client.stop();
} catch (error) {
  exitCode = 1;
  say(`✖ ${(error as Error)?.stack ?? error}`);
} finally {
  await devnet.stop();
  rmSync(dir, { recursive: true, force: true });
}
process.exit(exitCode);
