import { createLogger } from '../log/logger.js';
import type { Env } from '../config.js';
import { menusFor } from '../router/index.js';
import type { RouterClient } from '../routeros/client/index.js';
import { MENUS } from '../routeros/sim/menus.js';
import type { RouterEntry, RouterState } from '../router/state.js';
import { EXIT_FAILED, EXIT_OK, EXIT_USAGE, usageError, type CliIo } from './io.js';
import { messageOf } from '../errors.js';
import { routerRuntime } from './router-runtime.js';

export const ROUTER_USAGE = `usage: mikrolb router dump

Reads the router (print commands only, never a write) and prints its state as JSON in the
format of "mikrolb invoke --router": interfaces, addresses, routes (static and connected) and
the filter, nat, mangle and address-list menus, IPv4 and IPv6. Properties the simulator does
not model are left out, so "mikrolb invoke ... --router dump.json" runs on a copy of this
router. The router comes from ROUTEROS_URL, ROUTEROS_USERNAME, ROUTEROS_PASSWORD and
ROUTEROS_CA_CERT. Route tables are printed whole: on a router with a full BGP table the reply
limits of the client stop the dump.
`;

/** The menus a dump holds, in the order they are printed. */
export const DUMP_MENUS: readonly string[] = ['/interface', ...menusFor('IPv4'), '/ip/route', ...menusFor('IPv6'), '/ipv6/route'];

/** An entry as the simulator can take it: the properties its menu models (read-only flags it ignores itself). */
function modelled(menu: string, entry: RouterEntry): RouterEntry {
  const fields = MENUS.get(menu)?.fields ?? {};
  return Object.fromEntries(Object.entries(entry).filter(([key]) => key === '.id' || Object.hasOwn(fields, key)));
}

/** Reads the router, print commands only. */
export async function dumpRouter(router: Pick<RouterClient, 'version' | 'readMany'>): Promise<RouterState> {
  const [version, menus] = await Promise.all([router.version(), router.readMany(DUMP_MENUS)]);
  return { version, menus: Object.fromEntries(DUMP_MENUS.map((menu) => [menu, (menus[menu] ?? []).map((e) => modelled(menu, e))])) };
}

/** `mikrolb router dump` */
export async function runRouter(argv: string[], env: Env, io: CliIo): Promise<number> {
  const [verb, ...rest] = argv;
  if (verb === '--help' || verb === 'help') {
    io.stdout.write(ROUTER_USAGE);
    return EXIT_OK;
  }
  if (verb === undefined) return usageError(io, 'router', 'say what to do: dump');
  if (verb !== 'dump') return usageError(io, 'router', `unknown verb "${verb}"; expected dump`);
  if (rest[0] !== undefined) return usageError(io, 'router dump', `unexpected argument "${rest[0]}"`, 'router');
  const router = routerRuntime(env, createLogger({ out: io.stderr, level: 'warn' }));
  if (!router.ok) {
    io.stderr.write(`mikrolb router dump: ${router.message}\n`);
    return EXIT_USAGE;
  }
  try {
    io.stdout.write(`${JSON.stringify(await dumpRouter(router.value), null, 2)}\n`);
    return EXIT_OK;
  } catch (e) {
    io.stderr.write(`mikrolb router dump: ${messageOf(e)}\n`);
    return EXIT_FAILED;
  } finally {
    await router.value.close();
  }
}
