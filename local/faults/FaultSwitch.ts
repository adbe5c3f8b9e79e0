/**
 * The running fault switch: which fault (if any) the next request to a target gets, drawn from a
 * seeded sequence per target (so model traffic does not shift the DynamoDB draws), with counts of
 * what was injected. Connections held by a `timeout` are tracked so stopping the stack does not
 * wait for them.
 */
import type { Socket } from 'node:net';
import { xoroshiro128plus } from 'pure-rand/generator/xoroshiro128plus';
import { uniformFloat64 } from 'pure-rand/distribution/uniformFloat64';
import type { RandomGenerator } from 'pure-rand/types/RandomGenerator';
import { FAULT_KINDS, FAULT_TARGETS, formatFaultSpec, hasFaults, type FaultKind, type FaultSpec, type FaultTarget } from './faultSpec.js';

export interface FaultCounts {
  /** Requests that reached the switch. */
  requests: number;
  injected: Partial<Record<FaultKind, number>>;
}

export interface FaultState {
  enabled: true;
  spec: string;
  counts: Record<FaultTarget, FaultCounts>;
}

export class FaultSwitch {
  private current: FaultSpec;
  private rngs = new Map<FaultTarget, RandomGenerator>();
  private readonly tally: Record<FaultTarget, FaultCounts> = { models: { requests: 0, injected: {} }, dynamodb: { requests: 0, injected: {} } };
  private readonly held = new Set<Socket>();

  constructor(spec: FaultSpec) {
    this.current = spec;
    this.reseed();
  }

  get spec(): FaultSpec {
    return this.current;
  }

  /** Replaces the rates (and restarts the seeded sequences); counts keep accumulating. */
  set(spec: FaultSpec): void {
    this.current = spec;
    this.reseed();
  }

  active(target?: FaultTarget): boolean {
    return hasFaults(this.current, target);
  }

  /** One draw per request: the fault to inject, or undefined to serve it normally. */
  draw(target: FaultTarget): FaultKind | undefined {
    const counts = this.tally[target];
    counts.requests++;
    const rates = this.current.rates[target];
    if (!FAULT_KINDS.some((kind) => (rates[kind] ?? 0) > 0)) return undefined;
    const u = uniformFloat64(this.rngs.get(target)!);
    let edge = 0;
    for (const kind of FAULT_KINDS) {
      edge += rates[kind] ?? 0;
      if (u < edge) {
        counts.injected[kind] = (counts.injected[kind] ?? 0) + 1;
        return kind;
      }
    }
    return undefined;
  }

  state(): FaultState {
    const counts = Object.fromEntries(FAULT_TARGETS.map((t) => [t, { requests: this.tally[t].requests, injected: { ...this.tally[t].injected } }])) as Record<FaultTarget, FaultCounts>;
    return { enabled: true, spec: formatFaultSpec(this.current), counts };
  }

  /** Holds a request's connection for the spec's timeout, then drops it without an answer. */
  holdThenDrop(socket: Socket): void {
    this.held.add(socket);
    const timer = setTimeout(() => this.drop(socket), this.current.timeoutMs);
    timer.unref();
    socket.once('close', () => {
      clearTimeout(timer);
      this.held.delete(socket);
    });
  }

  drop(socket: Socket): void {
    this.held.delete(socket);
    socket.destroy();
  }

  /** Drops every held connection now (the servers are stopping). */
  dropHeld(): void {
    for (const socket of [...this.held]) this.drop(socket);
  }

  private reseed(): void {
    FAULT_TARGETS.forEach((target, i) => this.rngs.set(target, xoroshiro128plus((this.current.seed * 31 + i) | 0)));
  }
}
