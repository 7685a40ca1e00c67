import type { Family } from './addresses.js';

/** The firewall tables a RouterOS v7 packet passes through. */
export type Table = 'raw' | 'mangle' | 'nat' | 'filter';

/** The netfilter hook a packet is at; decides which built-in chain of each table runs. */
export type Hook = 'prerouting' | 'input' | 'forward' | 'output' | 'postrouting';

/**
 * The first packet of a NEW connection while it crosses the router. Addresses and ports change
 * as NAT rules apply; marks and the NAT state belong to the connection.
 */
export interface Flow {
  readonly family: Family;
  readonly protocol: number;
  hook: Hook;
  src: bigint;
  srcPort: number | undefined;
  dst: bigint;
  dstPort: number | undefined;
  inInterface: string | undefined;
  outInterface: string | undefined;
  connectionMark: string | undefined;
  packetMark: string | undefined;
  routingMark: string | undefined;
  natState: { dstnat: boolean; srcnat: boolean };
}

/** What rules may consult or change outside the packet itself: the router's other menus and counters. */
export interface Env {
  inAddressList(list: string, family: Family, address: bigint): boolean;
  addToAddressList(list: string, family: Family, address: bigint): void;
  interfaceInList(list: string, name: string): boolean;
  /** The first address configured on an interface, as masquerade and redirect pick it. */
  interfaceAddress(name: string, family: Family): bigint | undefined;
  isLocalAddress(family: Family, address: bigint): boolean;
  /** Counts one more packet for a rule's nth matcher and returns the new count. */
  countNth(ruleKey: string): number;
}

export type MatchFn = (flow: Flow, env: Env) => boolean;
