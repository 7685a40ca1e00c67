import { parseArgs } from 'node:util';
import { DEFAULT_CLUSTER, menusFor, planState, scopes, stagePlan, type Op } from '../router/index.js';
import { isPermission } from '../router/errors.js';
import type { RouterPort } from '../router/port.js';
import type { RouterEntry } from '../router/state.js';
import { createLogger } from '../log/logger.js';
import { clusterFromEnv, type Env } from '../config.js';
import { EXIT_FAILED, EXIT_OK, EXIT_USAGE, usageError, type CliIo, type CliOptions } from './io.js';
import { messageOf } from '../errors.js';
import { routerRuntime } from './router-runtime.js';

export const UNINSTALL_USAGE = `usage: mikrolb uninstall --router [--dry-run]

Removes every router entry this cluster owns (comment "mikrolb:<MIKROLB_CLUSTER_NAME>:...";
for the cluster "default" also the tags written before cluster names, "mikrolb:svc=..." and
"mikrolb:global:...") from addresses (host addresses only), address lists and
filter/nat/mangle rules, IPv4 and IPv6, and nothing else, printing each one once the router
confirmed its removal (and, when the router refuses one, which are left). Other clusters'
entries stay. --dry-run only prints. The router comes from ROUTEROS_URL, ROUTEROS_USERNAME,
ROUTEROS_PASSWORD and ROUTEROS_CA_CERT; the cluster from MIKROLB_CLUSTER_NAME (default
"default"). Run it once the cluster's MikroLB is gone: a running controller or its functions
write their entries again at the next event or resync.
`;

const MENUS = [...menusFor('IPv4'), ...menusFor('IPv6')];

/** `<menu> <id> <comment>` for each entry a remove op names. */
function entryLines(state: Record<string, RouterEntry[]>, op: Op): { id: string; line: string }[] {
  if (op.op !== 'remove') return [];
  return op.ids.map((id) => ({ id, line: `${op.menu} ${id} ${(state[op.menu] ?? []).find((x) => x['.id'] === id)?.comment ?? ''}` }));
}

/** The plan that removes all of one cluster's entries, and a line per removed entry. */
export function planUninstall(state: Record<string, RouterEntry[]>, cluster: string = DEFAULT_CLUSTER): { ops: Op[]; lines: string[] } {
  const ops = planState({ version: '7', menus: state }, {}, scopes.cluster(cluster), MENUS);
  return { ops, lines: ops.flatMap((op) => entryLines(state, op).map((e) => e.line)) };
}

const entries = (n: number): string => `entr${n === 1 ? 'y' : 'ies'}`;

/**
 * After a round trip failed: which of the entries it and the later ones name are still on the
 * router (the router runs every command of a round trip, so some of its removals may have
 * landed). Undefined when the router cannot be read either.
 */
async function stillThere(router: RouterPort, ops: readonly Op[]): Promise<Set<string> | undefined> {
  const menus = [...new Set(ops.map((op) => op.menu))];
  try {
    const state = await router.readMany(menus);
    return new Set(menus.flatMap((menu) => (state[menu] ?? []).map((e) => `${menu} ${e['.id'] ?? ''}`)));
  } catch {
    return undefined;
  }
}

/**
 * Removes in the order program removes (stagePlan: NAT before addresses and lists, a source
 * list after the rules matching it), and says `removed` for an entry only once the router
 * confirmed it. When a round trip fails, reads the router again and says which entries went
 * and which are left, then throws the router's error.
 */
async function removeStaged(router: RouterPort, ops: readonly Op[], state: Record<string, RouterEntry[]>, io: CliIo): Promise<number> {
  const stages = stagePlan(ops, state);
  let removed = 0;
  for (const [index, stage] of stages.entries()) {
    try {
      await router.execute(stage);
    } catch (e) {
      const rest = stages.slice(index).flat();
      const present = await stillThere(router, rest);
      const counts = { removed, left: 0, unknown: 0 };
      for (const op of rest) {
        for (const { id, line } of entryLines(state, op)) {
          const sent = stage.includes(op);
          const word = !sent || present?.has(`${op.menu} ${id}`) ? 'left' : present === undefined ? 'unknown' : 'removed';
          counts[word] += 1;
          io.stdout.write(`${word === 'unknown' ? 'not confirmed (the router could not be read again)' : word} ${line}\n`);
        }
      }
      const total = counts.removed + counts.left + counts.unknown;
      io.stdout.write(`removed ${counts.removed} of ${total} ${entries(total)}, ${counts.left} left on the router${counts.unknown > 0 ? `, ${counts.unknown} not confirmed` : ''}\n`);
      throw e;
    }
    for (const op of stage) {
      for (const { line } of entryLines(state, op)) {
        io.stdout.write(`removed ${line}\n`);
        removed += 1;
      }
    }
  }
  return removed;
}

export async function uninstallRouter(router: RouterPort, dryRun: boolean, io: CliIo, cluster: string = DEFAULT_CLUSTER): Promise<number> {
  const state = await router.readMany(MENUS);
  const { ops, lines } = planUninstall(state, cluster);
  if (dryRun) {
    for (const l of lines) io.stdout.write(`would remove ${l}\n`);
    io.stdout.write(`would remove ${lines.length} ${entries(lines.length)}\n`);
    return EXIT_OK;
  }
  const removed = await removeStaged(router, ops, state, io);
  io.stdout.write(`removed ${removed} ${entries(removed)}\n`);
  return EXIT_OK;
}

/** The flags `mikrolb uninstall` accepts. */
export const UNINSTALL_OPTIONS = { router: { type: 'boolean' }, 'dry-run': { type: 'boolean' }, help: { type: 'boolean', short: 'h' } } as const satisfies CliOptions;

/** `mikrolb uninstall --router [--dry-run]` */
export async function runUninstall(argv: string[], env: Env, io: CliIo): Promise<number> {
  let values;
  try {
    ({ values } = parseArgs({ args: argv, options: UNINSTALL_OPTIONS, strict: true }));
  } catch (e) {
    return usageError(io, 'uninstall', messageOf(e));
  }
  if (values.help) {
    io.stdout.write(UNINSTALL_USAGE);
    return EXIT_OK;
  }
  if (!values.router) return usageError(io, 'uninstall', 'say --router (what to uninstall from)');
  const cluster = clusterFromEnv(env);
  if (!cluster.ok) {
    io.stderr.write(`mikrolb uninstall: ${cluster.message}\n`);
    return EXIT_USAGE;
  }
  const router = routerRuntime(env, createLogger({ out: io.stderr, level: 'warn' }));
  if (!router.ok) {
    io.stderr.write(`mikrolb uninstall: ${router.message}\n`);
    return EXIT_USAGE;
  }
  try {
    return await uninstallRouter(router.value, values['dry-run'] ?? false, io, cluster.value);
  } catch (e) {
    const hint = isPermission(e)
      ? `; the group of the router user "${env.ROUTEROS_USERNAME?.trim() ?? ''}" needs the policies api, read and write (docs/installation.md, "A user with its own group"), then run it again`
      : '';
    io.stderr.write(`mikrolb uninstall: ${messageOf(e)}${hint}\n`);
    return EXIT_FAILED;
  } finally {
    await router.value.close();
  }
}
