import * as z from 'zod';
import { RouterStateSchema, type RouterState } from '../../router/state.js';
import { storeFromState } from './store.js';

/**
 * What a router-state file may hold (`mikrolb invoke --router`, `mikrolb routeros-sim --seed`):
 * a router's state as `mikrolb router dump` prints it, or a whole earlier `mikrolb invoke`
 * output, whose `router.state` is used, so runs can be chained.
 */

/** An earlier `mikrolb invoke` output: its `router.state` is where the next run starts. */
const InvokeOutputRouterSchema = z.object({ function: z.string(), router: z.object({ state: z.unknown() }).loose() }).loose();
/** An earlier output made without --router: it has no router state to start from. */
const InvokeOutputSchema = z.object({ function: z.string(), objects: z.array(z.unknown()) }).loose();
export const ROUTER_FORMAT = '{"version": "7.19.1", "menus": {...}}';

type Fail = { ok: false; message: string };
const fail = (message: string): Fail => ({ ok: false, message });
const isRecord = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

/** The router state in a file's parsed JSON; `label` (`--router path`) starts every message. */
export function routerStateOf(value: unknown, label: string): { ok: true; state: RouterState } | Fail {
  const output = InvokeOutputRouterSchema.safeParse(value);
  if (!output.success && InvokeOutputSchema.safeParse(value).success) {
    return fail(`${label} is the output of a run without --router: it holds no router state; give a router's state ${ROUTER_FORMAT} (mikrolb router dump) or the output of a run with --router`);
  }
  if (!output.success && isRecord(value) && !('version' in value) && !('menus' in value)) {
    return fail(`${label} is not a router's state ${ROUTER_FORMAT}: it has neither "version" nor "menus"`);
  }
  const parsed = RouterStateSchema.safeParse(output.success ? output.data.router.state : value);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    return fail(`${label}: ${[issue?.path.join('.'), issue?.message ?? 'invalid'].filter(Boolean).join(': ')}`);
  }
  // The simulator's store knows every menu and property a router has: a typo is caught here.
  const store = storeFromState(parsed.data);
  return store.ok ? { ok: true, state: parsed.data } : fail(`${label}: ${store.message}`);
}
