/**
 * The fault-injection switch of the local stack, as a person writes it in WEFT_FAULTS:
 *
 *   WEFT_FAULTS=models.5xx=0.1,models.timeout=0.05,dynamodb.throttle=0.1,seed=7,timeoutMs=1500
 *
 * Entries are `<target>.<kind>=<rate>` (rate: the share of that target's requests, 0..1; the
 * rates of one target add up to at most 1) and the options `seed=<integer>` (the fault draws are
 * a seeded sequence, so a run can be repeated) and `timeoutMs=<ms>` (how long a `timeout` holds a
 * request before dropping its connection). `off` (or an empty value) turns every fault off but
 * keeps the switch, so `PUT /local/faults` can turn them on later.
 */

export const FAULT_TARGETS = ['models', 'dynamodb'] as const;
export type FaultTarget = (typeof FAULT_TARGETS)[number];

/**
 * - `5xx`: the service's own server error (SageMaker ServiceUnavailable 503, DynamoDB
 *   InternalServerError 500), which the SDK retries and the pipeline treats as transient;
 * - `throttle`: the service's throttling error (ThrottlingException / ProvisionedThroughputExceededException);
 * - `timeout`: the request is held `timeoutMs`, then its connection is dropped unanswered;
 * - `lost-reply` (dynamodb only): the request is carried out, then the connection is dropped
 *   before the reply, so the caller retries a write that already happened.
 */
export const FAULT_KINDS = ['5xx', 'throttle', 'timeout', 'lost-reply'] as const;
export type FaultKind = (typeof FAULT_KINDS)[number];

/** Kinds that make sense per target: an inference has no side effect a lost reply would repeat. */
const KINDS_OF: Record<FaultTarget, readonly FaultKind[]> = {
  models: ['5xx', 'throttle', 'timeout'],
  dynamodb: ['5xx', 'throttle', 'timeout', 'lost-reply'],
};

export type FaultRates = Record<FaultTarget, Partial<Record<FaultKind, number>>>;

export interface FaultSpec {
  rates: FaultRates;
  seed: number;
  timeoutMs: number;
}

export const DEFAULT_FAULT_SEED = 1;
export const DEFAULT_FAULT_TIMEOUT_MS = 2000;
/** A held request longer than this would outlast the dispatcher's own patience for no benefit. */
const MAX_TIMEOUT_MS = 60_000;

export class FaultSpecError extends Error {
  override readonly name = 'FaultSpecError';
}

const emptyRates = (): FaultRates => ({ models: {}, dynamodb: {} });

export const noFaults = (): FaultSpec => ({ rates: emptyRates(), seed: DEFAULT_FAULT_SEED, timeoutMs: DEFAULT_FAULT_TIMEOUT_MS });

const isTarget = (value: string): value is FaultTarget => (FAULT_TARGETS as readonly string[]).includes(value);
const isKind = (value: string): value is FaultKind => (FAULT_KINDS as readonly string[]).includes(value);

/** Parses WEFT_FAULTS; every mistake is a FaultSpecError naming the entry and what is allowed. */
export const parseFaultSpec = (text: string, variable = 'WEFT_FAULTS'): FaultSpec => {
  const spec = noFaults();
  const trimmed = text.trim();
  if (trimmed === '' || trimmed === 'off') return spec;
  const fail = (entry: string, why: string): never => {
    throw new FaultSpecError(`${variable}: '${entry}' ${why}`);
  };
  for (const raw of trimmed.split(',')) {
    const entry = raw.trim();
    if (entry === '') continue;
    const eq = entry.lastIndexOf('=');
    if (eq <= 0) fail(entry, `is not <target>.<kind>=<rate>, seed=<integer> or timeoutMs=<ms> (targets: ${FAULT_TARGETS.join(', ')}; kinds: ${FAULT_KINDS.join(', ')})`);
    const name = entry.slice(0, eq).trim();
    const value = entry.slice(eq + 1).trim();
    const number = value === '' ? Number.NaN : Number(value);
    if (name === 'seed') {
      if (!Number.isSafeInteger(number)) fail(entry, 'needs an integer seed');
      spec.seed = number;
      continue;
    }
    if (name === 'timeoutMs') {
      if (!Number.isInteger(number) || number < 1 || number > MAX_TIMEOUT_MS) fail(entry, `needs a whole number of milliseconds from 1 to ${MAX_TIMEOUT_MS}`);
      spec.timeoutMs = number;
      continue;
    }
    const dot = name.indexOf('.');
    const target = dot < 0 ? name : name.slice(0, dot);
    const kind = dot < 0 ? '' : name.slice(dot + 1);
    if (!isTarget(target)) fail(entry, `names an unknown target '${target}' (targets: ${FAULT_TARGETS.join(', ')})`);
    const t = target as FaultTarget;
    if (!isKind(kind)) fail(entry, `names an unknown fault kind '${kind}' (kinds: ${FAULT_KINDS.join(', ')})`);
    const k = kind as FaultKind;
    if (!KINDS_OF[t].includes(k)) fail(entry, `is not available for ${t} (${t} kinds: ${KINDS_OF[t].join(', ')})`);
    if (!Number.isFinite(number) || number < 0 || number > 1) fail(entry, 'needs a rate from 0 to 1');
    if (spec.rates[t][k] !== undefined) fail(entry, `sets ${t}.${k} a second time`);
    spec.rates[t][k] = number;
  }
  for (const target of FAULT_TARGETS) {
    const total = Object.values(spec.rates[target]).reduce((sum, rate) => sum + rate, 0);
    // A little slack for decimal rates such as 0.1 + 0.2 + 0.7.
    if (total > 1 + 1e-9) throw new FaultSpecError(`${variable}: the ${target} rates add up to ${Number(total.toFixed(6))}; at most 1 of its requests can fail`);
  }
  return spec;
};

/** The canonical WEFT_FAULTS text of a spec (what GET /local/faults reports). */
export const formatFaultSpec = (spec: FaultSpec): string => {
  const entries: string[] = [];
  for (const target of FAULT_TARGETS) {
    for (const kind of FAULT_KINDS) {
      const rate = spec.rates[target][kind];
      if (rate !== undefined && rate > 0) entries.push(`${target}.${kind}=${rate}`);
    }
  }
  if (entries.length === 0) return 'off';
  return [...entries, `seed=${spec.seed}`, `timeoutMs=${spec.timeoutMs}`].join(',');
};

export const hasFaults = (spec: FaultSpec, target?: FaultTarget): boolean =>
  (target ? [target] : FAULT_TARGETS).some((t) => Object.values(spec.rates[t]).some((rate) => rate > 0));
