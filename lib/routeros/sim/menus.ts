import { firewallMenus } from './menus-firewall.js';
import { ipMenus } from './menus-ip.js';
import type { MenuSpec } from './menu-types.js';

/** Every menu the simulator knows, by path. */
export const MENUS: ReadonlyMap<string, MenuSpec> = new Map(
  [...firewallMenus, ...ipMenus()].map((menu) => [menu.path, menu]),
);

/** A command prefix that names a menu or a folder above one (`/ip`, `/ip/firewall`). */
export function isKnownPrefix(path: string): boolean {
  if (path === '' || MENUS.has(path)) return true;
  for (const menu of MENUS.keys()) if (menu.startsWith(`${path}/`)) return true;
  return false;
}

/** Interfaces of a router the simulator starts without any state. */
export const DEFAULT_INTERFACES: readonly Record<string, string>[] = [
  { name: 'ether1', type: 'ether', 'mac-address': '02:00:00:00:00:01' },
  { name: 'ether2', type: 'ether', 'mac-address': '02:00:00:00:00:02' },
  { name: 'bridge', type: 'bridge', 'mac-address': '02:00:00:00:00:03' },
  { name: 'lo', type: 'loopback', 'mac-address': '00:00:00:00:00:00' },
];
