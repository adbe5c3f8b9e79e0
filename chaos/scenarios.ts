/**
 * The scenarios of `npm run chaos`. Each round of a scenario runs on a fresh WEFT_HOME with its
 * own `npm start`, uploads a seeded catalog and ends with a drain, a redrive of whatever was
 * dead-lettered, and the reconciliation.
 */
export interface Scenario {
  name: string;
  description: string;
  /** Signal sent to the stack's process group at random moments during the uploads. */
  signal?: 'SIGKILL' | 'SIGTERM';
  /** WEFT_FAULTS for the whole round, from the run's fault rate and the round's seed. */
  faults?: (rate: number, seed: number, timeoutMs: number) => string;
  /** The model server fails everything until the queues are empty; then faults off and redrive. */
  outage?: boolean;
}

const split = (target: string, kinds: string[], rate: number): string => kinds.map((k) => `${target}.${k}=${Number((rate / kinds.length).toFixed(6))}`).join(',');

export const SCENARIOS: readonly Scenario[] = [
  { name: 'load', description: 'uploads only: the baseline every other scenario is compared with' },
  { name: 'sigkill', signal: 'SIGKILL', description: 'SIGKILL of the whole npm start process group during the uploads, then a restart' },
  { name: 'sigterm', signal: 'SIGTERM', description: 'SIGTERM of the whole npm start process group during the uploads (a clean stop), then a restart' },
  {
    name: 'model-faults',
    description: 'model server answers 503, throttles or times out at the fault rate (split evenly)',
    faults: (rate, seed, timeoutMs) => `${split('models', ['5xx', 'throttle', 'timeout'], rate)},seed=${seed},timeoutMs=${timeoutMs}`,
  },
  {
    name: 'dynamodb-faults',
    description: 'DynamoDB answers 500, throttles, times out or loses the reply of a done write at the fault rate (split evenly)',
    faults: (rate, seed, timeoutMs) => `${split('dynamodb', ['5xx', 'throttle', 'timeout', 'lost-reply'], rate)},seed=${seed},timeoutMs=${timeoutMs}`,
  },
  {
    name: 'outage-redrive',
    outage: true,
    description: 'model server down (every invocation 503) until every message is dead-lettered; then it recovers and the dead letters are redriven',
    faults: (_rate, seed, timeoutMs) => `models.5xx=1,seed=${seed},timeoutMs=${timeoutMs}`,
  },
];
