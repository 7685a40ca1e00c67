import * as z from 'zod';
import { isAlreadyExists, isConflict, isKubeError, isNotFound } from '../lib/k8s/errors.js';
import { RESOURCES, apiVersionOf, resourcePath } from '../lib/k8s/resources.js';
import type { Transport } from '../lib/k8s/rest.js';
import type { Logger } from '../lib/log/logger.js';
import type { Cancel, Clock } from './clock.js';
import { messageOf } from '../lib/errors.js';

export interface LeaseSettings {
  namespace: string;
  name: string;
  identity: string;
  durationMs: number;
  /** A leader that could not renew for this long stops invoking (before others may take over). */
  renewDeadlineMs: number;
  retryPeriodMs: number;
}

export interface ElectorOptions {
  transport: Transport;
  settings: LeaseSettings;
  clock: Clock;
  log: Logger;
  onLeading(): void;
  onFollowing(): void;
}

export interface Elector {
  isLeader(): boolean;
  /** Stops campaigning and, when leading, releases the lease so a successor need not wait. */
  stop(): Promise<void>;
}

const LeaseSchema = z.object({
  metadata: z.object({ resourceVersion: z.string() }),
  spec: z
    .object({
      holderIdentity: z.string().nullish(),
      leaseDurationSeconds: z.number().nullish(),
      acquireTime: z.string().nullish(),
      renewTime: z.string().nullish(),
      leaseTransitions: z.number().nullish(),
    })
    .nullish(),
});
type LeaseSpec = NonNullable<z.infer<typeof LeaseSchema>['spec']>;

/** Kubernetes MicroTime: RFC 3339 with exactly six fractional digits. */
const microTime = (ms: number): string => new Date(ms).toISOString().replace('Z', '000Z');

/**
 * Held when someone holds it and this replica saw the Lease change less than its duration ago,
 * by this replica's own clock (as client-go's leader election judges it): the holder's
 * `renewTime` is written by the holder's clock, and read by another replica's it let one whose
 * clock ran ahead take the lease from a leader renewing it, and one whose clock ran behind wait
 * out the difference before taking over from a dead leader.
 */
export function leaseHeld(spec: LeaseSpec, changedAtMs: number, nowMs: number): boolean {
  if (!spec.holderIdentity) return false;
  return changedAtMs + (spec.leaseDurationSeconds ?? 0) * 1000 > nowMs;
}

/**
 * What an operator can do about a failure that repeats until they act: the Lease's namespace
 * missing (a create answered 404: the read before it found no Lease), or no right to Leases.
 */
function leaseHint(err: unknown, namespace: string): { hint?: string } {
  const meanwhile = 'this replica does no work until it holds the lease';
  if (isNotFound(err)) return { hint: `namespace ${namespace} does not exist: create it, or set LEASE_NAMESPACE to one that does (or LEADER_ELECTION=false for a single replica); ${meanwhile}` };
  if (isKubeError(err) && err.status === 403) return { hint: `this replica may not read or write Leases in namespace ${namespace}: grant it (as deploy/base/rbac-leader-election.yaml does), or set LEADER_ELECTION=false for a single replica; ${meanwhile}` };
  return {};
}

/** Leader election on a coordination.k8s.io/v1 Lease, written with resourceVersion preconditions. */
export function startElector(opts: ElectorOptions): Elector {
  const { transport, settings, clock } = opts;
  const log = opts.log.child({ lease: `${settings.namespace}/${settings.name}`, identity: settings.identity });
  const path = resourcePath(RESOURCES.Lease, settings.namespace, settings.name);
  const timeoutMs = Math.max(1000, settings.retryPeriodMs);
  const durationSeconds = Math.max(1, Math.ceil(settings.durationMs / 1000));
  let leading = false;
  let stopped = false;
  let cancelTick: Cancel | undefined;
  let cancelDeadline: Cancel | undefined;
  let ticking: Promise<void> = Promise.resolve();
  /** The Lease as this replica last saw it change: its resourceVersion, and when (by our clock). */
  let seen: { resourceVersion: string; at: number } | undefined;

  const body = (resourceVersion: string | undefined, spec: Record<string, unknown>) => ({
    apiVersion: apiVersionOf(RESOURCES.Lease),
    kind: 'Lease',
    metadata: { name: settings.name, namespace: settings.namespace, ...(resourceVersion ? { resourceVersion } : {}) },
    spec,
  });

  async function read(): Promise<z.infer<typeof LeaseSchema> | undefined> {
    try {
      return LeaseSchema.parse(await transport({ method: 'GET', path, timeoutMs }));
    } catch (err) {
      if (isNotFound(err)) return undefined;
      throw err;
    }
  }

  /** One campaign round: true when we hold the lease afterwards. */
  async function campaign(): Promise<boolean> {
    const lease = await read();
    const now = clock.now();
    const spec = lease?.spec ?? {};
    const mine = spec.holderIdentity === settings.identity;
    if (lease && seen?.resourceVersion !== lease.metadata.resourceVersion) seen = { resourceVersion: lease.metadata.resourceVersion, at: now };
    if (lease && !mine && seen && leaseHeld(spec, seen.at, now)) return false;
    const next = {
      holderIdentity: settings.identity,
      leaseDurationSeconds: durationSeconds,
      acquireTime: mine && spec.acquireTime ? spec.acquireTime : microTime(now),
      renewTime: microTime(now),
      leaseTransitions: (spec.leaseTransitions ?? 0) + (lease && !mine ? 1 : 0),
    };
    try {
      if (lease) await transport({ method: 'PUT', path, body: body(lease.metadata.resourceVersion, next), timeoutMs });
      else await transport({ method: 'POST', path: resourcePath(RESOURCES.Lease, settings.namespace), body: body(undefined, next), timeoutMs });
      return true;
    } catch (err) {
      if (isConflict(err) || isAlreadyExists(err)) return false; // someone else wrote first
      throw err;
    }
  }

  async function tick(): Promise<void> {
    let won: boolean | undefined;
    try {
      won = await campaign();
    } catch (err) {
      log.warn('Lease update failed', { error: messageOf(err), ...leaseHint(err, settings.namespace) });
    }
    if (stopped) return;
    if (won === true) renewed();
    else if (won === false && leading) follow('another replica holds the lease');
    cancelTick = clock.schedule(settings.retryPeriodMs, () => void (ticking = tick()));
  }

  function renewed(): void {
    cancelDeadline?.();
    cancelDeadline = clock.schedule(settings.renewDeadlineMs, () => follow('the lease could not be renewed in time'));
    if (leading) return;
    leading = true;
    log.info('Became leader');
    opts.onLeading();
  }

  /** Stops leading: a leader that lost the lease is warned of; one that stops steps down (nothing went wrong). */
  function follow(reason: string, steppingDown = false): void {
    cancelDeadline?.();
    if (!leading) return;
    leading = false;
    if (steppingDown) log.info('Stepping down; pausing invocations', { reason });
    else log.warn('Lost leadership; pausing invocations', { reason });
    opts.onFollowing();
  }

  async function release(): Promise<void> {
    const lease = await read();
    if (!lease || lease.spec?.holderIdentity !== settings.identity) return;
    const spec = { leaseDurationSeconds: 1, renewTime: microTime(clock.now()), leaseTransitions: lease.spec.leaseTransitions ?? 0 };
    await transport({ method: 'PUT', path, body: body(lease.metadata.resourceVersion, spec), timeoutMs });
    log.info('Released the lease');
  }

  ticking = tick();
  return {
    isLeader: () => leading,
    async stop() {
      stopped = true;
      cancelTick?.();
      await ticking;
      const wasLeading = leading;
      follow('stopping', true);
      if (wasLeading) await release().catch((err: unknown) => log.warn('Releasing the lease failed', { error: String(err) }));
    },
  };
}
