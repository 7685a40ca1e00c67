import { parseArgs } from 'node:util';
import { DEFAULT_CLUSTER, menusFor, planState, scopes, type Op } from '../router/index.js';
import { isPermission } from '../router/errors.js';
import type { RouterPort } from '../router/port.js';
import type { RouterEntry } from '../router/state.js';
import { createLogger } from '../log/logger.js';
import { clusterFromEnv, type Env } from '../config.js';
import { EXIT_FAILED, EXIT_OK, EXIT_USAGE, type CliIo, type CliOptions } from './io.js';
import { messageOf } from '../errors.js';
import { routerRuntime } from './router-runtime.js';

export const UNINSTALL_USAGE = `usage: mikrolb uninstall --router [--dry-run]

Removes every router entry this cluster owns (comment "mikrolb:<MIKROLB_CLUSTER_NAME>:...";
for the cluster "default" also the tags written before cluster names, "mikrolb:svc=..." and
"mikrolb:global:...") from addresses (host addresses only), address lists and
filter/nat/mangle rules, IPv4 and IPv6, and nothing else, printing each one. Other clusters'
entries stay. --dry-run only prints. The router comes from ROUTEROS_URL, ROUTEROS_USERNAME,
ROUTEROS_PASSWORD and ROUTEROS_CA_CERT; the cluster from MIKROLB_CLUSTER_NAME (default
"default").
`;

const MENUS = [...menusFor('IPv4'), ...menusFor('IPv6')];

/** The plan that removes all of one cluster's entries, and a line per removed entry. */
export function planUninstall(state: Record<string, RouterEntry[]>, cluster: string = DEFAULT_CLUSTER): { ops: Op[]; lines: string[] } {
  const ops = planState({ version: '7', menus: state }, {}, scopes.cluster(cluster), MENUS);
  const lines: string[] = [];
  for (const op of ops) {
    if (op.op !== 'remove') continue;
    for (const id of op.ids) {
      const e = (state[op.menu] ?? []).find((x) => x['.id'] === id);
      lines.push(`${op.menu} ${id} ${e?.comment ?? ''}`);
    }
  }
  return { ops, lines };
}

export async function uninstallRouter(router: RouterPort, dryRun: boolean, io: CliIo, cluster: string = DEFAULT_CLUSTER): Promise<number> {
  const state = await router.readMany(MENUS);
  const { ops, lines } = planUninstall(state, cluster);
  for (const l of lines) io.stdout.write(`${dryRun ? 'would remove' : 'removing'} ${l}\n`);
  if (!dryRun && ops.length > 0) await router.execute(ops);
  io.stdout.write(`${dryRun ? 'would remove' : 'removed'} ${lines.length} entr${lines.length === 1 ? 'y' : 'ies'}\n`);
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
    io.stderr.write(`mikrolb uninstall: ${messageOf(e)}\n${UNINSTALL_USAGE}`);
    return EXIT_USAGE;
  }
  if (values.help) {
    io.stdout.write(UNINSTALL_USAGE);
    return EXIT_OK;
  }
  if (!values.router) {
    io.stderr.write(`mikrolb uninstall: say --router (what to uninstall from)\n${UNINSTALL_USAGE}`);
    return EXIT_USAGE;
  }
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
      ? `; the group of the router user "${env.ROUTEROS_USERNAME ?? ''}" needs the policies api, read and write (docs/installation.md, "A user with its own group"), then run it again`
      : '';
    io.stderr.write(`mikrolb uninstall: ${messageOf(e)}${hint}\n`);
    return EXIT_FAILED;
  } finally {
    await router.value.close();
  }
}
