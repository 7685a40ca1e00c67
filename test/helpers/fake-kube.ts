import type { ObjectKind } from '../../lib/events/invocation.js';
import { KubeError } from '../../lib/k8s/errors.js';
import type { KubeStream, WatchEvent } from '../../bridge/kube-stream.js';
import { checkAs, requestOf, type Account } from '../../lib/k8s/rbac/test-support.js';

/**
 * Test support: an API server's list and watch, in memory, with outages and expiry on demand;
 * a list or watch the RBAC of `account` (deploy/base, the bridge's by default) does not grant is
 * refused with 403, as the API server refuses it.
 */

type Obj = { metadata: { name: string; namespace?: string; resourceVersion?: string } } & Record<string, unknown>;

interface Watcher {
  kind: ObjectKind;
  onEvent: (event: WatchEvent) => void;
  end: (error?: Error) => void;
}

export function fakeKube(account: Account = 'bridge') {
  const check = checkAs(account);
  let rv = 100;
  let offline = false;
  let oldestWatchable = 0;
  const objects = new Map<ObjectKind, Map<string, Obj>>();
  const watchers = new Set<Watcher>();
  const lists: ObjectKind[] = [];
  const watches: { kind: ObjectKind; resourceVersion: string }[] = [];
  const of = (kind: ObjectKind): Map<string, Obj> => objects.get(kind) ?? objects.set(kind, new Map()).get(kind) ?? new Map();
  const keyOf = (obj: Obj): string => `${obj.metadata.namespace ?? ''}/${obj.metadata.name}`;
  const down = (): KubeError => new KubeError('connect ECONNREFUSED 127.0.0.1:6443', 0, 'NetworkError');
  const notify = (kind: ObjectKind, event: WatchEvent): void => {
    for (const w of watchers) if (w.kind === kind) w.onEvent(event);
  };
  const endAll = (error?: Error): void => {
    for (const w of [...watchers]) {
      watchers.delete(w);
      w.end(error);
    }
  };

  const stream: KubeStream = {
    async list(kind, page) {
      check(requestOf(kind, 'list'));
      if (offline) throw down();
      if (page.continue === undefined) lists.push(kind);
      const all = [...of(kind).values()].sort((a, b) => keyOf(a).localeCompare(keyOf(b)));
      const start = Number(page.continue ?? 0);
      const next = start + page.limit;
      return { items: structuredClone(all.slice(start, next)), resourceVersion: String(rv), continue: next < all.length ? String(next) : undefined };
    },
    watch(kind, resourceVersion, onEvent, signal) {
      try {
        check(requestOf(kind, 'watch'));
      } catch (e) {
        return Promise.reject(e);
      }
      watches.push({ kind, resourceVersion });
      if (offline) return Promise.reject(down());
      if (Number(resourceVersion) < oldestWatchable) return Promise.reject(new KubeError('too old resource version', 410, 'Expired'));
      return new Promise<void>((resolve, reject) => {
        const w: Watcher = { kind, onEvent, end: (error) => (error ? reject(error) : resolve()) };
        watchers.add(w);
        signal.addEventListener('abort', () => {
          watchers.delete(w);
          resolve();
        });
      });
    },
  };

  return {
    stream,
    /** Creates or updates; watchers see ADDED or MODIFIED. */
    apply(kind: ObjectKind, obj: Obj): void {
      const stored = structuredClone(obj);
      stored.metadata.resourceVersion = String(++rv);
      const existed = of(kind).has(keyOf(stored));
      of(kind).set(keyOf(stored), stored);
      notify(kind, { type: existed ? 'MODIFIED' : 'ADDED', object: structuredClone(stored) });
    },
    remove(kind: ObjectKind, name: string, namespace?: string): void {
      const key = `${namespace ?? ''}/${name}`;
      const obj = of(kind).get(key);
      if (!obj) return;
      of(kind).delete(key);
      obj.metadata.resourceVersion = String(++rv);
      notify(kind, { type: 'DELETED', object: obj });
    },
    bookmark(kind: ObjectKind): string {
      notify(kind, { type: 'BOOKMARK', object: { metadata: { resourceVersion: String(++rv) } } });
      return String(rv);
    },
    /** The server ends every stream cleanly (its timeout). */
    endWatches: () => endAll(),
    breakWatches: () => endAll(new KubeError('the watch stream broke', 0, 'NetworkError')),
    /** Every resourceVersion seen so far is compacted: watches from it get 410 Gone. */
    expire(): void {
      oldestWatchable = rv;
      endAll(new KubeError('too old resource version', 410, 'Expired'));
    },
    setOffline(value: boolean): void {
      offline = value;
      if (value) endAll(down());
    },
    watching: (kind: ObjectKind): number => [...watchers].filter((w) => w.kind === kind).length,
    lists,
    watches,
  };
}
