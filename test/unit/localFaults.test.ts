/**
 * The local stack's fault switch (WEFT_FAULTS): parsing with named errors, the seeded draws and
 * their rates, and the /local/faults route.
 */
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { FAULT_KINDS, FaultSpecError, formatFaultSpec, hasFaults, noFaults, parseFaultSpec, type FaultSpec } from '../../local/faults/faultSpec.js';
import { FaultSwitch } from '../../local/faults/FaultSwitch.js';
import { faultRoute } from '../../local/faults/faultRoute.js';

const json = { 'content-type': 'application/json' };

describe('parseFaultSpec', () => {
  it('reads rates per target and kind, the seed and the timeout', () => {
    const spec = parseFaultSpec(' models.5xx=0.1, models.timeout=0.05,dynamodb.throttle=0.2,dynamodb.lost-reply=0.1,seed=42,timeoutMs=1500 ');
    expect(spec).toEqual({
      rates: { models: { '5xx': 0.1, timeout: 0.05 }, dynamodb: { throttle: 0.2, 'lost-reply': 0.1 } },
      seed: 42,
      timeoutMs: 1500,
    });
    expect(formatFaultSpec(spec)).toBe('models.5xx=0.1,models.timeout=0.05,dynamodb.throttle=0.2,dynamodb.lost-reply=0.1,seed=42,timeoutMs=1500');
    expect(hasFaults(spec, 'models')).toBe(true);
  });

  it('treats off and an empty value as a switch with no faults', () => {
    for (const text of ['off', '', '  ', 'models.5xx=0']) {
      const spec = parseFaultSpec(text);
      expect(hasFaults(spec)).toBe(false);
      expect(formatFaultSpec(spec)).toBe('off');
    }
  });

  it.each([
    ['models', /'models' is not <target>\.<kind>=<rate>/],
    ['s3.5xx=0.1', /unknown target 's3' \(targets: models, dynamodb\)/],
    ['models.boom=0.1', /unknown fault kind 'boom' \(kinds: 5xx, throttle, timeout, lost-reply\)/],
    ['models=0.1', /unknown fault kind ''/],
    ['models.lost-reply=0.1', /'models.lost-reply=0.1' is not available for models \(models kinds: 5xx, throttle, timeout\)/],
    ['models.5xx=1.5', /needs a rate from 0 to 1/],
    ['models.5xx=-0.1', /needs a rate from 0 to 1/],
    ['models.5xx=', /needs a rate from 0 to 1/],
    ['models.5xx=abc', /needs a rate from 0 to 1/],
    ['models.5xx=0.1,models.5xx=0.2', /sets models.5xx a second time/],
    ['dynamodb.5xx=0.6,dynamodb.throttle=0.5', /the dynamodb rates add up to 1.1; at most 1/],
    ['seed=1.5', /needs an integer seed/],
    ['timeoutMs=0', /from 1 to 60000/],
    ['timeoutMs=120000', /from 1 to 60000/],
  ])('refuses %s with a named error', (text, message) => {
    expect(() => parseFaultSpec(text)).toThrow(FaultSpecError);
    expect(() => parseFaultSpec(text)).toThrow(message);
    expect(() => parseFaultSpec(text)).toThrow(/^WEFT_FAULTS: /);
  });

  it('reads back what it formats', () => {
    const rate = fc.double({ min: 0, max: 0.25, noNaN: true });
    const modelRates = fc.record({ '5xx': rate, throttle: rate, timeout: rate }, { requiredKeys: [] });
    const lostReply = fc.record({ 'lost-reply': rate }, { requiredKeys: [] });
    fc.assert(
      fc.property(modelRates, lostReply, fc.integer(), fc.integer({ min: 1, max: 60_000 }), (models, extra, seed, timeoutMs) => {
        const spec: FaultSpec = { rates: { models, dynamodb: { ...models, ...extra } }, seed, timeoutMs };
        const back = parseFaultSpec(formatFaultSpec(spec));
        for (const target of ['models', 'dynamodb'] as const) {
          for (const kind of FAULT_KINDS) expect(back.rates[target][kind] ?? 0).toBe(spec.rates[target][kind] ?? 0);
        }
        if (hasFaults(spec)) expect([back.seed, back.timeoutMs]).toEqual([seed, timeoutMs]);
      }),
    );
  });
});

describe('FaultSwitch', () => {
  const draws = (faults: FaultSwitch, n: number) => Array.from({ length: n }, () => faults.draw('models'));

  it('repeats its draws for a seed and injects each kind at its rate', () => {
    const spec = parseFaultSpec('models.5xx=0.2,models.throttle=0.1,models.timeout=0.05,seed=7');
    const first = draws(new FaultSwitch(spec), 20_000);
    expect(draws(new FaultSwitch(spec), 20_000)).toEqual(first);
    expect(draws(new FaultSwitch(parseFaultSpec('models.5xx=0.2,models.throttle=0.1,models.timeout=0.05,seed=8')), 200)).not.toEqual(first.slice(0, 200));
    const share = (kind: string) => first.filter((k) => k === kind).length / first.length;
    expect(share('5xx')).toBeCloseTo(0.2, 1);
    expect(share('throttle')).toBeCloseTo(0.1, 1);
    expect(share('timeout')).toBeCloseTo(0.05, 1);
    expect(Math.abs(share('5xx') - 0.2)).toBeLessThan(0.015);
    expect(first.filter((k) => k === undefined).length / first.length).toBeCloseTo(0.65, 1);
  });

  it('draws each target from its own sequence and counts what it injected', () => {
    const spec = parseFaultSpec('models.5xx=0.5,dynamodb.throttle=0.5,seed=3');
    const alone = draws(new FaultSwitch(spec), 100);
    const mixed = new FaultSwitch(spec);
    const interleaved = alone.map(() => {
      mixed.draw('dynamodb');
      return mixed.draw('models');
    });
    expect(interleaved).toEqual(alone);
    const state = mixed.state();
    expect(state.counts.models.requests).toBe(100);
    expect(state.counts.models.injected['5xx']).toBe(alone.filter((k) => k === '5xx').length);
    expect(state.counts.dynamodb.requests).toBe(100);
    expect(state.spec).toBe('models.5xx=0.5,dynamodb.throttle=0.5,seed=3,timeoutMs=2000');
  });

  it('fails every request at rate 1 and none once set off, keeping the counts', () => {
    const faults = new FaultSwitch(parseFaultSpec('models.5xx=1'));
    expect(new Set(draws(faults, 50))).toEqual(new Set(['5xx']));
    faults.set(noFaults());
    expect(new Set(draws(faults, 50))).toEqual(new Set([undefined]));
    expect(faults.state().counts.models).toEqual({ requests: 100, injected: { '5xx': 50 } });
    expect(faults.active()).toBe(false);
  });
});

describe('/local/faults', () => {
  const call = (faults: FaultSwitch | undefined, method: string, body = '', headers: Record<string, string> = json) =>
    faultRoute(faults)(method, '/local/faults', new URLSearchParams(), Buffer.from(body), headers);

  it('shows and changes the faults', async () => {
    const faults = new FaultSwitch(parseFaultSpec('models.5xx=1'));
    expect(await call(faults, 'GET')).toEqual({ status: 200, body: expect.objectContaining({ enabled: true, spec: 'models.5xx=1,seed=1,timeoutMs=2000' }) });
    expect(await call(faults, 'PUT', JSON.stringify({ faults: 'dynamodb.timeout=0.5,timeoutMs=100' }))).toEqual({ status: 200, body: expect.objectContaining({ spec: 'dynamodb.timeout=0.5,seed=1,timeoutMs=100' }) });
    expect(faults.draw('models')).toBeUndefined();
  });

  it('refuses what is not a JSON request with a valid spec, and leaves the faults as they were', async () => {
    const faults = new FaultSwitch(parseFaultSpec('models.5xx=1'));
    expect(await call(faults, 'PUT', '{"faults":"off"}', { 'content-type': 'text/plain' })).toMatchObject({ status: 415 });
    expect(await call(faults, 'PUT', 'faults=off')).toMatchObject({ status: 400, body: { message: expect.stringMatching(/not JSON/) } });
    expect(await call(faults, 'PUT', '{"faults": 3}')).toMatchObject({ status: 400, body: { message: expect.stringMatching(/string field "faults"/) } });
    expect(await call(faults, 'PUT', '{"faults": "models.melt=1"}')).toMatchObject({ status: 400, body: { message: "faults: 'models.melt=1' names an unknown fault kind 'melt' (kinds: 5xx, throttle, timeout, lost-reply)" } });
    expect(await call(faults, 'DELETE')).toMatchObject({ status: 405 });
    expect(faults.state().spec).toBe('models.5xx=1,seed=1,timeoutMs=2000');
  });

  it('says how to get a switch when the stack started without one', async () => {
    expect(await call(undefined, 'GET')).toMatchObject({ status: 200, body: { enabled: false, message: expect.stringMatching(/WEFT_FAULTS/) } });
    expect(await call(undefined, 'PUT', '{"faults":"models.5xx=1"}')).toMatchObject({ status: 409 });
  });

  it('leaves other paths to other routes', async () => {
    expect(await faultRoute(undefined)('GET', '/local/queues', new URLSearchParams(), Buffer.alloc(0), {})).toBeUndefined();
  });
});
