import * as z from 'zod';

/**
 * A router's configuration as the `mikrolb invoke --router` fixture format and the simulator's
 * seed/dump format describe it: every entry is a map of property name to the string value the
 * API would send on the wire (including `.id`, e.g. `*1A`).
 */
export const RouterEntrySchema = z.record(z.string(), z.string());
export type RouterEntry = z.infer<typeof RouterEntrySchema>;

export const RouterStateSchema = z.object({
  version: z.string().regex(/^\d+\.\d+(\.\d+)?/, 'version must look like 7.19.1'),
  menus: z.record(z.string().regex(/^(\/[a-z0-9-]+)+$/, 'menu must look like /ip/firewall/nat'), z.array(RouterEntrySchema)),
});
export type RouterState = z.infer<typeof RouterStateSchema>;
