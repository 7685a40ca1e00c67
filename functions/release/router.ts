import { menusToRead, ownersOf, partitionState, programOwner, soleOwnerOf, type OwnerProgram } from '../../lib/core/router-program.js';
import { DEFAULT_CLUSTER, menusFor, planState, stagePlan, type Scope } from '../../lib/router/index.js';
import type { RouterEntry } from '../../lib/router/state.js';
import { RouterReleaseError, type ReleaseDeps, type ReleaseReport } from './deps.js';
import { messageOf } from '../../lib/errors.js';
import { shareRuns } from '../../lib/share-runs.js';

/** Runs a router step; a failure becomes RouterReleaseError (the finalizer stays). */
export async function onRouter<T>(deps: ReleaseDeps, what: string, step: () => Promise<T>): Promise<T> {
  try {
    return await step();
  } catch (e) {
    if (e instanceof RouterReleaseError) throw e;
    const message = `Releasing ${what} on the router failed: ${messageOf(e)}`;
    deps.log.warn('Router release failed', { what, message });
    throw new RouterReleaseError(message);
  }
}

/** Whole menus, read and split by owner (partitionState): each owner's share of them. */
export type WholeRouter = () => Promise<(uid: string, also?: readonly string[]) => Record<string, RouterEntry[]>>;

/**
 * The whole read release plans against, shared by this instance's invocations in flight: each
 * gets a read that started after it asked (shareRuns), so it sees every entry written before;
 * a burst of N releases reads the router (N Services' entries each time) a few times, not N.
 */
export function sharedWholeRouter(router: ReleaseDeps['router'], cluster: string): WholeRouter {
  const share = shareRuns(async (_menus: 'whole') => partitionState(await router.readMany(menusToRead()), cluster));
  return () => share('whole');
}

/** The deps' shared whole read (createRelease makes one), or a read of this caller's own. */
export const wholeRouterOf = (deps: ReleaseDeps): WholeRouter =>
  deps.wholeRouter ?? sharedWholeRouter(deps.router, deps.classes.clusterName ?? DEFAULT_CLUSTER);

/**
 * Re-plans an owner (a Service without some allocation, or nothing at all) against whole menus
 * (so entries a narrowed read would miss go too) and applies it, retrying router conflicts. The
 * router refusing the advertisement of another of the Service's addresses (see programOwner)
 * does not fail the release: what it releases goes all the same, and program reports the
 * refused address on its allocation.
 */
export async function applyOwner(deps: ReleaseDeps, p: OwnerProgram, report: ReleaseReport): Promise<number> {
  const cluster = deps.classes.clusterName ?? DEFAULT_CLUSTER;
  const wholeRouter = wholeRouterOf(deps);
  const whole = async (): Promise<Record<string, RouterEntry[]>> => (await wholeRouter())(p.uid, ownersOf(p));
  const { ops, refused } = await programOwner(deps.router, { ...p, cluster }, { read: whole });
  if (ops.length > 0) report.actions.push(`router: ${ops.length} change(s) for ${p.uid}`);
  if (refused !== undefined) deps.log.info('The router refused another address of the owner while releasing; left to program', { owner: p.uid, error: refused });
  return ops.length;
}

/**
 * Takes every entry of owners that are gone for good off the router (as applyOwner with nothing
 * wanted), planned from one whole read taken after they were all judged: taking one owner's
 * entries off leaves every other owner's share of the read as a new read would show it
 * (soleOwnerOf), so N owners cost one read, not N (a resync collecting 1,000 orphans read the
 * router whole 1,000 times). Read again after a run that touched more, or met a conflict.
 */
export async function dropOwners(deps: ReleaseDeps, uids: readonly string[], report: ReleaseReport): Promise<void> {
  const cluster = deps.classes.clusterName ?? DEFAULT_CLUSTER;
  let view: { shares: ReturnType<typeof partitionState>; sole: ReturnType<typeof soleOwnerOf> } | undefined;
  for (const uid of uids) {
    if (view === undefined) {
      const state = await deps.router.readMany(menusToRead());
      view = { shares: partitionState(state, cluster), sole: soleOwnerOf(state, cluster) };
    }
    let reread = false;
    const read = async (): Promise<Record<string, RouterEntry[]>> => {
      reread = true;
      return partitionState(await deps.router.readMany(menusToRead()), cluster)(uid);
    };
    const { ops } = await programOwner(deps.router, { uid, cluster, adverts: [] }, { state: view.shares(uid), read });
    if (ops.length > 0) report.actions.push(`router: ${ops.length} change(s) for ${uid}`);
    if (reread || (ops.length > 0 && view.sole(ops) !== uid)) view = undefined;
  }
}

/** Removes every entry the scope selects from both families' menus; returns how many ops. */
export async function removeScoped(deps: ReleaseDeps, state: Record<string, RouterEntry[]>, scope: Scope): Promise<number> {
  const routerState = { version: '7', menus: state };
  const ops = [...planState(routerState, {}, scope, menusFor('IPv4')), ...planState(routerState, {}, scope, menusFor('IPv6'))];
  for (const stage of stagePlan(ops, state)) await deps.router.execute(stage); // NAT goes before addresses and lists
  return ops.reduce((n, op) => n + (op.op === 'remove' ? op.ids.length : 0), 0);
}
