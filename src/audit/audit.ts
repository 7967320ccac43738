// Recomputes one round of a relay's Gauntlet from published data and checks
// its signed receipt (`npm run audit -- --relay URL --round r`). What it reads:
//
//   GET /api/run                   run spec, Gauntlet config, the relay's address
//   GET /api/rounds/r/receipt      the signed receipt (verified: canonical bytes, sr25519 by that address)
//   GET /api/rounds/r/state        the Gauntlet state the round started from (hash = stateHashBefore)
//   GET /api/checkpoint?version=0  θ(0); then /api/updates bundles up to the round's base
//                                  version, each step checked against its published hash,
//                                  the last one against modelHashBefore
//   GET /api/rounds/r/submissions  every signed frame (re-verified: signature, payload hash,
//                                  run/round/base model; their payload hashes and arrival
//                                  times must be the receipt's)
//   the run's training bytes       `npm run data` here; their SHA-256 must be the run's
//
// and what it checks, in two parts:
//   measurements  the plan (who was drawn) is recomputed from the state and
//                 the round seed, and every evaluated submission's four
//                 losses (and the consensus step's two) are measured again with the same onnxruntime-web
//                 job. Expected bit for bit with the same onnxruntime-web
//                 build (1.30, wasm, one thread); tolerance LOSS_TOLERANCE
//                 (relative) otherwise. A submission the relay reports as its
//                 own failure (relay-failure) cannot be re-measured into the
//                 relay's account and is listed.
//   decisions     decideRound is rerun on the state with the receipt's own
//                 losses: every entry (ratings, BMA, penalties, aggregated,
//                 reasons, weights) must equal the receipt's exactly, and so
//                 must stateHashAfter and weightsHash; the aggregate of the
//                 receipt's aggregated submissions applied to θ must hash to
//                 modelHashAfter.
// Leaves out: auditing a chain of rounds (run it per round: receipt r's
// stateHashBefore is receipt r−1's stateHashAfter), the held-out loss.
import { aggregateUpdates, applyAggregate, emptyAggregate } from '../compress/aggregate.ts';
import { decodePublishedAggregate, decodeUpdate, encodePublishedAggregate } from '../compress/codec.ts';
import type { DatasetManifest } from '../data/prepare.ts';
import { InlineEvaluator } from '../gauntlet/evaluator.ts';
import type { TrialLosses } from '../gauntlet/evaluation-job.ts';
import { decideRound, prepareRound, type RoundInput, type RoundSubmission } from '../gauntlet/round.ts';
import { buildLayout } from '../model/layout.ts';
import {
  bytesEqual,
  checkHeaderForRound,
  decodeRoundArchive,
  hashToHex,
  modelHash,
  parseGauntletRunInfo,
  parseGauntletState,
  parseSignedReceiptBody,
  stateHash,
  verifyReceipt,
  decodeSubmission,
  verifySignedSubmission,
  weightsHash,
  type Receipt,
  type ReceiptEntry,
} from '../protocol/index.ts';
import { decodeBundle, gptConfigOf, parseSwarmRunInfo } from '../protocol/index.ts';

/** Largest relative difference accepted between a published loss and a re-measured one (another ORT build, another CPU). */
export const LOSS_TOLERANCE = 1e-6;

export interface AuditCheck {
  name: string;
  ok: boolean;
  detail: string;
}

export interface AuditReport {
  relay: string;
  round: number;
  ok: boolean;
  /** Every loss re-measured to the same bits. */
  bitForBit: boolean;
  /** Largest relative loss difference seen. */
  maxLossDifference: number;
  checks: AuditCheck[];
}

export interface AuditOptions {
  /** The run's training bytes and their manifest (npm run data). */
  dataset: { train: Uint8Array; manifest: DatasetManifest };
  fetch?: typeof fetch;
  log?: (message: string) => void;
}

class AuditFailure extends Error {}

export async function auditRound(relayUrl: string, round: number, options: AuditOptions): Promise<AuditReport> {
  const base = relayUrl.replace(/\/+$/, '');
  const fetchImpl = options.fetch ?? fetch;
  const log = options.log ?? (() => {});
  const checks: AuditCheck[] = [];
  const check = (name: string, ok: boolean, detail: string) => {
    checks.push({ name, ok, detail });
    log(`${ok ? 'ok  ' : 'FAIL'} ${name}: ${detail}`);
    return ok;
  };
  const get = async (path: string): Promise<Response> => {
    const response = await fetchImpl(`${base}${path}`);
    if (!response.ok) throw new AuditFailure(`GET ${path}: ${response.status} ${await response.text()}`);
    return response;
  };
  const json = async (path: string) => (await get(path)).json() as Promise<unknown>;
  const bytes = async (path: string) => new Uint8Array(await (await get(path)).arrayBuffer());
  let bitForBit = true;
  let maxLossDifference = 0;

  try {
    const runJson = await json('/api/run');
    const run = parseSwarmRunInfo(runJson);
    const { relayAddress, gauntlet } = parseGauntletRunInfo(runJson);
    const receipt = verifyReceipt(parseSignedReceiptBody(await json(`/api/rounds/${round}/receipt`)), relayAddress);
    check('receipt', receipt.round === round && receipt.runId === run.runId, `round ${round} of ${run.runId}, signed by the run's relay ${relayAddress}, ${receipt.entries.length} submissions`);
    const state = parseGauntletState(await json(`/api/rounds/${round}/state`));
    check('state before', stateHash(state) === receipt.stateHashBefore && state.round === round, `${state.peers.length} addresses, hash ${stateHash(state).slice(0, 18)}…`);

    const model = gptConfigOf(run.swarm);
    const layout = buildLayout(model);
    const manifest = layout.tensors;
    const compression = run.swarm.compression;
    const theta = await rebuildModel(receipt.baseVersion, bytes, layout.size, manifest, compression, run.swarm.outerLearningRate);
    check('model before', hashToHex(modelHash(theta)) === receipt.modelHashBefore, `θ(${receipt.baseVersion}) rebuilt from θ(0) and ${receipt.baseVersion} published aggregates`);

    check('training data', options.dataset.manifest.train_sha256 === run.swarm.data.trainSha256, `SHA-256 ${options.dataset.manifest.train_sha256.slice(0, 16)}…`);
    const submissions = readSubmissions(decodeRoundArchive(await bytes(`/api/rounds/${round}/submissions`)), receipt, run.runId, run.maxPayloadBytes, manifest, compression);
    check('submissions', true, `${submissions.length} frames verify and match the receipt's payload hashes and arrival times`);

    const input: RoundInput = {
      config: gauntlet,
      runSeed: run.swarm.runSeed,
      round,
      version: receipt.baseVersion,
      modelHash: receipt.modelHashBefore,
      params: theta,
      model,
      manifest,
      compression,
      outerLearningRate: run.swarm.outerLearningRate,
      innerSteps: run.innerSteps,
      batchSize: run.swarm.train.batchSize,
      seqLen: run.swarm.train.seqLen,
      data: options.dataset.train,
      submissions,
    };
    const { plan, findings, job } = prepareRound(state, input);
    check('round seed', plan.seed === receipt.roundSeed, plan.seed);
    const byAddress = new Map(receipt.entries.map((e) => [e.address, e]));
    const drawnStatuses = new Set(['evaluated', 'invalid', 'relay-failure']);
    const published = receipt.entries.filter((e) => drawnStatuses.has(e.status)).map((e) => e.address).sort();
    check('draw', JSON.stringify([...plan.evaluate].sort()) === JSON.stringify(published), `${plan.evaluate.length} drawn for evaluation of ${plan.candidates.length} candidates`);

    // Measurements.
    const measured = await new InlineEvaluator().evaluate(job, Number.MAX_SAFE_INTEGER);
    const failures: string[] = [];
    let compared = 0;
    for (const outcome of measured) {
      const entry = byAddress.get(outcome.address)!;
      if (entry.status === 'relay-failure') {
        failures.push(outcome.address);
        continue;
      }
      if (!('losses' in outcome)) throw new AuditFailure(`could not measure ${outcome.address}: ${outcome.error}`);
      if (entry.status !== 'evaluated') continue; // invalid: the relay measured a non-finite loss, published as 0
      for (const key of LOSS_KEYS) {
        const mine = outcome.losses[key];
        const theirs = entry[key];
        if (mine !== theirs) bitForBit = false;
        maxLossDifference = Math.max(maxLossDifference, Math.abs(mine - theirs) / Math.abs(theirs));
        compared++;
      }
    }
    check(
      'losses',
      maxLossDifference <= LOSS_TOLERANCE,
      `${compared} losses re-measured: ${bitForBit ? 'bit for bit' : `largest relative difference ${maxLossDifference.toExponential(2)} (tolerance ${LOSS_TOLERANCE})`}` +
        (failures.length ? `; ${failures.length} reported as the relay's failure: ${failures.join(', ')}` : ''),
    );

    // Decisions, from the receipt's own losses.
    const outcomes = new Map<string, TrialLosses | { error: string }>();
    for (const address of plan.evaluate) {
      const e = byAddress.get(address)!;
      outcomes.set(address, e.status === 'relay-failure' ? { error: 'the relay reported its own failure' } : lossesOf(e));
    }
    const decision = decideRound(state, input, { plan, findings, outcomes });
    const mismatches = decision.entries.filter((e, i) => JSON.stringify(e) !== JSON.stringify(receipt.entries[i]));
    check('decisions', mismatches.length === 0 && decision.entries.length === receipt.entries.length, mismatches.length ? `entries differ: ${mismatches.map((e) => e.address).join(', ')}` : 'every entry recomputed exactly');
    check('state after', stateHash(decision.state) === receipt.stateHashAfter, stateHash(decision.state).slice(0, 18) + '…');
    const weights = { round, version: receipt.version, burn: gauntlet.weights.burn, weights: decision.weights };
    check('weights', weightsHash(weights) === receipt.weightsHash, `${decision.weights.length} addresses paid`);

    const selected = submissions.filter((s) => decision.aggregated.includes(s.address));
    // The run's rule over the selected with their tokens, applied as its published bytes decode (as the relay does).
    const { aggregation, update: form } = run.swarm;
    const aggregate = selected.length
      ? aggregateUpdates(selected.map((s) => ({ id: s.address, update: s.update, tokens: s.tokens })), manifest, compression, aggregation)
      : emptyAggregate(manifest);
    const next = theta.slice();
    applyAggregate(next, decodePublishedAggregate(encodePublishedAggregate(aggregate, form, manifest, compression), manifest, compression), manifest, run.swarm.outerLearningRate);
    check('model after', hashToHex(modelHash(next)) === receipt.modelHashAfter && receipt.version === receipt.baseVersion + 1, `θ(${receipt.version}) from ${selected.length} aggregated submissions`);
  } catch (error) {
    check('audit', false, error instanceof AuditFailure ? error.message : `${(error as Error).name}: ${(error as Error).message}`);
  }
  return { relay: base, round, ok: checks.every((c) => c.ok), bitForBit, maxLossDifference, checks };
}

const LOSS_KEYS = ['lossBeforeRandom', 'lossAfterRandom', 'lossBeforeOwn', 'lossAfterOwn', 'lossReferenceRandom', 'lossReferenceOwn'] as const;

function lossesOf(e: ReceiptEntry): TrialLosses {
  return Object.fromEntries(LOSS_KEYS.map((key) => [key, e[key]])) as unknown as TrialLosses;
}

/** θ(0) plus the published aggregates up to `version`, each checked against its hash. */
async function rebuildModel(
  version: number,
  bytes: (path: string) => Promise<Uint8Array>,
  size: number,
  manifest: RoundInput['manifest'],
  compression: RoundInput['compression'],
  alpha: number,
): Promise<Float32Array> {
  const raw = await bytes('/api/checkpoint?version=0');
  if (raw.length !== 4 * size) throw new AuditFailure(`θ(0) has ${raw.length} bytes, the run's model ${4 * size}`);
  let theta = new Float32Array(size);
  new Uint8Array(theta.buffer).set(raw);
  let at = 0;
  while (at < version) {
    const entries = decodeBundle(await bytes(`/api/updates?since=${at}&format=2`), at);
    if (entries.length === 0) throw new AuditFailure(`the relay published no update after v${at}`);
    for (const entry of entries) {
      if (at >= version) break;
      const next = theta.slice();
      applyAggregate(next, decodePublishedAggregate(entry.aggregate, manifest, compression), manifest, alpha);
      if (!bytesEqual(modelHash(next), entry.modelHash)) throw new AuditFailure(`the update to v${entry.version} does not give its published hash`);
      theta = next;
      at = entry.version;
    }
  }
  return theta;
}

/** The archive's frames, verified and matched against the receipt, as Gauntlet's inputs. */
function readSubmissions(
  archive: ReturnType<typeof decodeRoundArchive>,
  receipt: Receipt,
  runId: string,
  maxPayloadBytes: number,
  manifest: RoundInput['manifest'],
  compression: RoundInput['compression'],
): (RoundSubmission & { tokens: number })[] {
  if (archive.length !== receipt.entries.length) throw new AuditFailure(`${archive.length} frames published, the receipt lists ${receipt.entries.length}`);
  const roundState = { round: receipt.round, version: receipt.baseVersion, modelHash: receipt.modelHashBefore, deadline: 0, dataSeed: receipt.roundSeed };
  return archive.map((stored, i) => {
    const submission = decodeSubmission(stored.frame, { maxPayloadBytes });
    checkHeaderForRound(submission.header, runId, roundState);
    verifySignedSubmission(submission);
    const entry = receipt.entries[i];
    const payloadHash = hashToHex(submission.header.payloadHash);
    if (entry.address !== submission.header.address || entry.payloadHash !== payloadHash || entry.receivedAt !== stored.receivedAt) {
      throw new AuditFailure(`frame ${i} (${submission.header.address}) is not the receipt's entry ${i}`);
    }
    const update = decodeUpdate(submission.payload, manifest, compression);
    return { address: entry.address, payloadHash, receivedAt: stored.receivedAt, update, tokens: submission.header.tokens, steps: submission.header.innerSteps };
  });
}
