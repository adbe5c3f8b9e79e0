/**
 * How good the models are where people checked them: every human correction records the models'
 * own answer at the time (their best label, even when the ensemble abstained, and its confidence),
 * so the corrections are a labeled sample of the models' answers. Accuracy against coverage is
 * what the abstain threshold trades: answering only above a confidence covers fewer products,
 * hopefully more of them right. Pure.
 *
 * The sample is biased the way the review queue is: people correct the products the models were
 * least sure of first, so the accuracy here is a lower bound for the catalog as a whole.
 */

/** The models' answer to a task before a person set it. */
export interface ModelAnswer {
  value: string;
  confidence: number;
}

export interface CorrectionOutcome {
  task: string;
  /** What the person set. */
  value: string;
  model: ModelAnswer;
}

export interface CalibrationPoint {
  /** Answer only at this confidence or above... */
  threshold: number;
  /** ...and this share of the corrected products is answered... */
  coverage: number;
  /** ...with this share of those answers right. */
  accuracy: number;
}

export interface TaskCalibration {
  /** Corrected products whose models' answer is known. */
  corrected: number;
  /** The task's abstain threshold (ensemble.json). */
  threshold: number;
  /** Coverage and accuracy at that threshold; absent when nothing is corrected. */
  atThreshold?: { coverage: number; accuracy: number };
  /** From the most confident answer down, at most {@link MAX_CURVE_POINTS} points. */
  curve: CalibrationPoint[];
}

export const MAX_CURVE_POINTS = 50;

const round = (x: number): number => Math.round(x * 1e4) / 1e4;

export const calibrate = (outcomes: readonly CorrectionOutcome[], threshold: number): TaskCalibration => {
  const sorted = [...outcomes].sort((a, b) => b.model.confidence - a.model.confidence);
  const n = sorted.length;
  if (n === 0) return { corrected: 0, threshold, curve: [] };
  const points: CalibrationPoint[] = [];
  let right = 0;
  for (let k = 1; k <= n; k += 1) {
    const outcome = sorted[k - 1]!;
    if (outcome.model.value === outcome.value) right += 1;
    // One point per distinct confidence: answers at the same confidence are all in or all out.
    if (k < n && sorted[k]!.model.confidence === outcome.model.confidence) continue;
    points.push({ threshold: round(outcome.model.confidence), coverage: round(k / n), accuracy: round(right / k) });
  }
  const step = Math.ceil(points.length / MAX_CURVE_POINTS);
  const curve = points.filter((_, i) => i % step === 0 || i === points.length - 1);
  const answered = sorted.filter((o) => o.model.confidence >= threshold);
  const correct = answered.filter((o) => o.model.value === o.value).length;
  return {
    corrected: n,
    threshold,
    atThreshold: { coverage: round(answered.length / n), accuracy: answered.length === 0 ? 0 : round(correct / answered.length) },
    curve,
  };
};

/**
 * The models' answer to `task` in a product's partition items: kept on the human correction when
 * there is one (the product item then holds the human's answer), else the product item's ranking.
 */
export const modelAnswerIn = (items: readonly object[], task: string): ModelAnswer | undefined => {
  const rows = items as readonly Record<string, unknown>[];
  const human = rows.find((i) => i.kind === 'human' && i.task === task && i.status === 'tagged');
  const kept = human?.model as ModelAnswer | undefined;
  if (kept !== undefined) return kept;
  const ranking = rows.find((i) => i.sk === 'PRODUCT')?.ranking as Record<string, { top?: { value: string; p: number }[] }> | undefined;
  const top = ranking !== undefined && Object.hasOwn(ranking, task) ? ranking[task]?.top?.[0] : undefined;
  return top === undefined ? undefined : { value: top.value, confidence: top.p };
};
