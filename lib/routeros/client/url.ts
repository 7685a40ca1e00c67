import { BlockList, isIP } from 'node:net';
import * as z from 'zod';

/** Where a router's API listens: `api://host[:8728]` (plain) or `api-ssl://host[:8729]` (TLS). */
export interface RouterTarget {
  tls: boolean;
  /** Host name or address, without IPv6 brackets. */
  host: string;
  port: number;
}

const DEFAULT_PORT = { api: 8728, 'api-ssl': 8729 } as const;
const SHAPE = 'must look like api://host[:8728] or api-ssl://host[:8729]';

/**
 * Parses ROUTEROS_URL. The port is always explicit in the result: routeros-client keeps 8728
 * even for TLS unless told otherwise (a known bug).
 */
export const RouterUrlSchema = z.string().trim().transform((text, ctx): RouterTarget => {
  const match = /^(api|api-ssl):\/\/([^/?#]+?)\/?$/.exec(text);
  const scheme = match?.[1];
  const authority = match?.[2];
  if (scheme !== 'api' && scheme !== 'api-ssl') {
    ctx.addIssue({ code: 'custom', message: `router URL ${SHAPE}` });
    return z.NEVER;
  }
  let url: URL;
  try {
    // A non-special scheme: `new URL` keeps every explicit port (http would drop `:80`).
    url = new URL(`api://${authority ?? ''}`);
  } catch {
    ctx.addIssue({ code: 'custom', message: `router URL has an invalid host or port: ${SHAPE}` });
    return z.NEVER;
  }
  if (url.username !== '' || url.password !== '') {
    ctx.addIssue({ code: 'custom', message: 'router URL must not hold credentials (use ROUTEROS_USERNAME and ROUTEROS_PASSWORD)' });
    return z.NEVER;
  }
  const host = url.hostname.replace(/^\[(.*)\]$/, '$1');
  const port = url.port === '' ? DEFAULT_PORT[scheme] : Number(url.port);
  if (host === '') {
    ctx.addIssue({ code: 'custom', message: `router URL ${SHAPE}` });
    return z.NEVER;
  }
  if (!(port > 0 && port < 65536)) {
    ctx.addIssue({ code: 'custom', message: `router URL has an invalid port (1-65535): ${SHAPE}` });
    return z.NEVER;
  }
  return { tls: scheme === 'api-ssl', host, port };
});

/** `host:port` for messages, with brackets around IPv6 addresses. */
export function describeTarget(target: RouterTarget): string {
  return isIP(target.host) === 6 ? `[${target.host}]:${target.port}` : `${target.host}:${target.port}`;
}

/**
 * ROUTEROS_URL as messages may show it: anything before an `@` (user info, a password that does
 * not belong there) replaced by `***`. The rest (scheme, host, port) stays for the reader.
 */
export function redactRouterUrl(text: string): string {
  const at = text.lastIndexOf('@');
  if (at < 0) return text;
  const scheme = /^[A-Za-z][A-Za-z0-9+.-]*:\/\//.exec(text)?.[0] ?? '';
  return `${scheme}***${text.slice(at)}`;
}

const LOOPBACK = new BlockList();
LOOPBACK.addSubnet('127.0.0.0', 8, 'ipv4');
LOOPBACK.addAddress('::1', 'ipv6');
LOOPBACK.addSubnet('::ffff:127.0.0.0', 104, 'ipv6');

/** Whether the router is this machine (a loopback address or `localhost`). */
export function isLoopbackTarget(target: RouterTarget): boolean {
  const host = target.host.toLowerCase();
  if (host === 'localhost' || host.endsWith('.localhost')) return true;
  const family = isIP(host);
  return family !== 0 && LOOPBACK.check(host, family === 4 ? 'ipv4' : 'ipv6');
}

/**
 * Plain `api://` sends the login's password in clear: worth a warning unless the router is
 * this machine. `undefined` when there is nothing to warn about.
 */
export function plaintextWarning(target: RouterTarget): { msg: string; fields: Record<string, string> } | undefined {
  if (target.tls || isLoopbackTarget(target)) return undefined;
  return {
    msg: 'The router API connection is not encrypted: the password and every command cross the network in clear',
    fields: { router: describeTarget(target), hint: 'use api-ssl:// (port 8729) with ROUTEROS_CA_CERT' },
  };
}
