import { isGone, isKubeError, isNotFound } from '../lib/k8s/errors.js';
import { RESOURCES } from '../lib/k8s/resources.js';
import { GROUP } from '../lib/k8s/keys.js';
import type { ObjectKind } from '../lib/events/invocation.js';
import type { Logger } from '../lib/log/logger.js';
import { sleep, type Clock } from './clock.js';
import type { KubeStream, WatchEvent } from './kube-stream.js';
import { backoffDelay, type BackoffPolicy } from './retry.js';
import type { Emission } from './routing.js';
import type { Tracker } from './tracker.js';
import * as z from 'zod';
import { messageOf } from '../lib/errors.js';
import type { WatchMirror } from '../lib/k8s/mirror.js';

export interface SourceObserver {
  listed(kind: ObjectKind, initial: boolean): void;
  watchRestarted(kind: ObjectKind): void;
  /** A list (the initial one or a re-list) failed; it is tried again with backoff. */
  listFailed(kind: ObjectKind): void;
  watchEvent(kind: ObjectKind, type: WatchEvent['type']): void;
}

export interface SourceOptions {
  kind: ObjectKind;
  stream: KubeStream;
  tracker: Tracker;
  emit: (emission: Emission, seenAt: number) => void;
  /**
   * The key of every object a DELETED watch event brings, before its emission: also of one the
   * tracker does not know (it never concerned the bridge, or stopped concerning it), which has none;
   * and, after a re-list, of each object that stopped concerning it and was not listed (Relist.vanished).
   */
  deleted?: (key: string) => void;
  /** Every object a watch event brings, before its emission (the all-in-one controller's hint for its functions). */
  /** A copy of the kind kept in this process (see WatchMirror): it hears of each object before the tracker. */
  mirror?: WatchMirror;
  clock: Clock;
  random: () => number;
  log: Logger;
  pageSize: number;
  /** Waits between failed lists and before re-listing after a broken watch. */
  backoff: BackoffPolicy;
  observer?: SourceObserver;
}

export interface Source {
  /** Resolves after the first complete list. */
  listed: Promise<void>;
  stop(): Promise<void>;
}

const RvSchema = z.object({ metadata: z.object({ resourceVersion: z.string() }) });

/** A watch that ran this long before breaking was healthy: the next re-list waits only briefly. */
const HEALTHY_MS = 30_000;

/**
 * What to do about a list that will not pass by itself: the API server does not know the kind
 * (MikroLB's CustomResourceDefinitions are not installed), or this replica may not list it.
 */
export function listHint(kind: ObjectKind, err: unknown): { hint?: string } {
  const t = RESOURCES[kind];
  if (isNotFound(err) && t.group === GROUP) {
    return { hint: `the API server does not serve ${t.plural}.${t.group}: install MikroLB's CustomResourceDefinitions (kubectl apply -k deploy/crds, or the Helm chart); nothing is allocated until then` };
  }
  if (isKubeError(err) && err.status === 403) {
    return { hint: `this replica may not list or watch ${t.plural}${t.group ? `.${t.group}` : ''}: grant it (as deploy/base/rbac-bridge.yaml does)` };
  }
  return {};
}

/**
 * List, then watch from the list's resourceVersion; re-watch when the server ends a stream;
 * re-list (with backoff) on 410 Gone or when the stream breaks or cannot be opened.
 */
export function startSource(opts: SourceOptions): Source {
  const { kind, clock, log } = opts;
  const abort = new AbortController();
  let markListed = (): void => undefined;
  const listed = new Promise<void>((resolve) => (markListed = resolve));

  async function relist(reason: string): Promise<string> {
    const run = opts.tracker.startRelist();
    const copy = opts.mirror?.relist();
    let changes = 0;
    let count = 0;
    let page: Awaited<ReturnType<KubeStream['list']>> | undefined;
    do {
      page = await opts.stream.list(kind, { limit: opts.pageSize, ...(page?.continue ? { continue: page.continue } : {}) });
      count += page.items.length;
      copy?.page(page.items);
      changes += emitAll(run.page(page.items));
    } while (page.continue);
    copy?.finish();
    const deletions = run.finish();
    // as a watch's deletions, told before any emission (see SourceOptions.deleted)
    for (const key of run.vanished()) opts.deleted?.(key);
    changes += emitAll(deletions);
    const initial = reason === 'initial';
    log.info(initial ? `Listed ${kind}` : `Re-listed ${kind}`, { kind, count, tracked: opts.tracker.size(), changes, reason });
    opts.observer?.listed(kind, initial);
    return page.resourceVersion;
  }

  function emitAll(emissions: readonly Emission[]): number {
    const seenAt = clock.now();
    for (const emission of emissions) opts.emit(emission, seenAt);
    return emissions.length;
  }

  function onEvent(event: WatchEvent): string | undefined {
    const seenAt = clock.now();
    opts.observer?.watchEvent(kind, event.type);
    if (event.type !== 'BOOKMARK') {
      if (event.type === 'DELETED') {
        opts.mirror?.gone(event.object);
        const key = opts.tracker.keyOf(event.object);
        if (key !== undefined) opts.deleted?.(key);
      } else opts.mirror?.seen(event.object);
      const emission = event.type === 'DELETED' ? opts.tracker.gone(event.object) : opts.tracker.seen(event.object);
      if (emission) opts.emit(emission, seenAt);
    }
    const rv = RvSchema.safeParse(event.object);
    return rv.success ? rv.data.metadata.resourceVersion : undefined;
  }

  /** Watches until the stream must be re-listed; resolves with the reason. */
  async function watchFrom(resourceVersion: string): Promise<{ reason: string; healthy: boolean }> {
    let rv = resourceVersion;
    for (;;) {
      const started = clock.now();
      try {
        await opts.stream.watch(kind, rv, (event) => void (rv = onEvent(event) ?? rv), abort.signal);
      } catch (err) {
        if (abort.signal.aborted) return { reason: 'stopped', healthy: true };
        opts.observer?.watchRestarted(kind);
        const reason = isGone(err) ? 'resourceVersion expired (410 Gone)' : `watch broke: ${messageOf(err)}`;
        return { reason, healthy: clock.now() - started >= HEALTHY_MS };
      }
      if (abort.signal.aborted) return { reason: 'stopped', healthy: true };
      opts.observer?.watchRestarted(kind);
      log.debug(`Watch of ${kind} ended; resuming`, { kind, resourceVersion: rv });
      // A server that ends every stream at once must not turn this loop into a busy one.
      if (clock.now() - started < 1000) await sleep(clock, 1000, abort.signal);
    }
  }

  async function run(): Promise<void> {
    let reason = 'initial';
    let failures = 0;
    while (!abort.signal.aborted) {
      try {
        const rv = await relist(reason);
        markListed();
        const ended = await watchFrom(rv);
        reason = ended.reason;
        failures = ended.healthy ? 1 : failures + 1;
      } catch (err) {
        failures++;
        opts.observer?.listFailed(kind);
        log.warn(`Listing ${kind} failed`, { kind, error: messageOf(err).trim(), attempt: failures, ...listHint(kind, err) });
      }
      if (abort.signal.aborted) return;
      await sleep(clock, backoffDelay(failures, opts.backoff, opts.random), abort.signal);
    }
  }

  const done = run();
  return {
    listed,
    async stop() {
      abort.abort();
      await done;
    },
  };
}

