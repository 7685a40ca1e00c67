import { routerFromEnv, type Env, type Parsed } from '../config.js';
import type { Logger } from '../log/logger.js';
import { connectRouter, plaintextWarning, RouterUrlSchema, type RouterClient, type RouterLimit } from '../routeros/client/index.js';

// Apart from runtime.ts (the cluster's edges), so that `mikrolb bridge`, which never talks to
// the router, does not load the RouterOS client and the router's configuration.

/** The router client a command that programs or reads the router uses, from ROUTEROS_*. */
export function routerRuntime(env: Env, log: Logger, onLimit?: (limit: RouterLimit) => void): Parsed<RouterClient> {
  const cfg = routerFromEnv(env);
  if (!cfg.ok) return cfg;
  const target = RouterUrlSchema.safeParse(cfg.value.url);
  const warning = target.success ? plaintextWarning(target.data) : undefined;
  if (warning) log.warn(warning.msg, warning.fields);
  return { ok: true, value: connectRouter({ ...cfg.value, log, ...(onLimit === undefined ? {} : { onLimit }) }) };
}
