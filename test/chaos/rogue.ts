import { objectInvocation, resyncInvocation, toCloudEvent } from '../../lib/events/cloudevent.js';
import type { Change, Invocation, ObjectRef } from '../../lib/events/invocation.js';
import type { Rng } from './rng.js';
import { NAMESPACE, POOLS, RESERVATIONS } from './shapes.js';

export interface RogueCounts {
  sent: number;
  duplicates: number;
  resyncs: number;
  /** Answers by class: 2xx, 4xx, 5xx, or no answer (the function was down or killed). */
  answers: Record<'2xx' | '4xx' | '5xx' | 'none', number>;
  /** A 400 to a well-formed event is a product bug: these are reported as violations. */
  badRequests: string[];
}

export interface Rogue {
  /** One burst: a few stale, duplicated and reordered events straight to the functions. */
  burst(): Promise<void>;
  /** Remembers allocation names (they are hashes) so later events can name them, live or gone. */
  learnAllocations(names: readonly string[]): void;
  counts: RogueCounts;
}

/**
 * A third invoker besides the two bridges: it sends CloudEvents that are stale (a delete for a
 * live object, an add for a gone one), duplicated (the same event id to two instances at once)
 * and out of order, plus resyncs. Events are hints, so none of this may break an invariant.
 */
export function rogueInvoker(urls: () => readonly string[], rng: Rng, services: number): Rogue {
  const counts: RogueCounts = { sent: 0, duplicates: 0, resyncs: 0, answers: { '2xx': 0, '4xx': 0, '5xx': 0, none: 0 }, badRequests: [] };
  const allocations = new Set<string>(RESERVATIONS.map((r) => r.name));

  const randomRef = (): ObjectRef => {
    const slot = rng.int(0, services - 1);
    const roll = rng.next();
    if (roll < 0.4) return { kind: 'Service', namespace: NAMESPACE, name: `s-${slot}` };
    if (roll < 0.6) return { kind: 'EndpointSlice', namespace: NAMESPACE, name: `s-${slot}-${rng.pick(['a', 'b'])}` };
    if (roll < 0.85 && allocations.size > 0) return { kind: 'IPAllocation', name: rng.pick([...allocations]) };
    return { kind: 'IPPool', name: rng.pick([...POOLS.map((p) => p.name), 'chaos-missing']) };
  };

  const send = async (url: string, inv: Invocation): Promise<void> => {
    const ev = toCloudEvent(inv);
    counts.sent++;
    try {
      const res = await fetch(url, { method: 'POST', headers: ev.headers, body: ev.body, signal: AbortSignal.timeout(20_000) });
      const text = await res.text();
      if (res.status === 400) counts.badRequests.push(`${inv.type === 'resync' ? 'resync' : `${inv.change} ${inv.ref.kind}/${inv.ref.name}`}: ${text.slice(0, 200)}`);
      counts.answers[res.status < 300 ? '2xx' : res.status < 500 ? '4xx' : '5xx']++;
    } catch {
      counts.answers.none++;
    }
  };

  const oneEvent = (): Invocation => {
    if (rng.chance(0.06)) {
      counts.resyncs++;
      return resyncInvocation({ source: 'chaos/rogue' });
    }
    return objectInvocation(rng.pick<Change>(['add', 'update', 'update', 'delete']), randomRef(), { source: 'chaos/rogue' });
  };

  return {
    counts,
    learnAllocations: (names) => {
      for (const n of names) allocations.add(n);
    },
    burst: async () => {
      const targets = urls();
      if (targets.length === 0) return;
      const events = Array.from({ length: rng.int(1, 6) }, oneEvent);
      const sends: Promise<void>[] = [];
      for (const inv of events) {
        sends.push(send(rng.pick(targets), inv));
        if (rng.chance(0.3)) {
          counts.duplicates++;
          sends.push(send(rng.pick(targets), inv));
        }
      }
      await Promise.all(sends);
    },
  };
}
