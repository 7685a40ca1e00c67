import { readFile } from 'node:fs/promises';
import { createSecureContext } from 'node:tls';
import { parseArgs, type ParseArgsConfig } from 'node:util';
import type { RouterState } from '../../router/state.js';
import { startRouterSim, type RouterSimOptions } from './server.js';
import { routerStateOf } from './state-file.js';
import { messageOf } from '../../errors.js';

export interface RouterSimCliIo {
  stdout: { write(text: string): unknown };
  stderr: { write(text: string): unknown };
  /** Stops the simulator when aborted; default: the first SIGINT or SIGTERM. */
  signal?: AbortSignal;
}

/** `mikrolb routeros-sim --help` */
export const ROUTER_SIM_USAGE =
  'usage: mikrolb routeros-sim [--port N] [--host H] [--tls-cert file --tls-key file] [--user U --password P]\n' +
  '                            [--read-only-user U --read-only-password P] [--version 7.19.1] [--legacy-login] [--seed state.json]\n' +
  '\n' +
  'Serves the RouterOS API simulator (binary API protocol, a RouterOS v7 router in memory) until\n' +
  'SIGINT or SIGTERM, and prints ROUTEROS_URL for it first.\n' +
  '\n' +
  '  --port, --host   where it listens: 8728 (8729 with TLS) on 127.0.0.1 by default\n' +
  '  --tls-cert/-key  serve api-ssl with this PEM certificate and key\n' +
  '  --user/password  the full-rights user: ROUTEROS_USERNAME/ROUTEROS_PASSWORD, else admin with\n' +
  '                   an empty password\n' +
  '  --read-only-*    a second user of the read group\n' +
  '  --version        the RouterOS version it reports (7.19.1)\n' +
  '  --legacy-login   the pre-6.43 challenge login\n' +
  '  --seed           the router\'s state to start from: {"version": "7.19.1", "menus": {...}} as\n' +
  '                   `mikrolb router dump` prints it, or a `mikrolb invoke --router` output (its\n' +
  '                   router.state), as invoke --router takes\n';

type Parsed = { ok: true; options: RouterSimOptions } | { ok: false; message: string };

async function readSeed(file: string): Promise<RouterState | string> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (error) {
    return `cannot read --seed ${file}: ${messageOf(error)}`;
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (error) {
    return `--seed ${file} is not JSON: ${messageOf(error)}`;
  }
  const parsed = routerStateOf(json, `--seed ${file}`);
  return parsed.ok ? parsed.state : parsed.message;
}

async function readPem(file: string, flag: string): Promise<string | { error: string }> {
  try {
    return await readFile(file, 'utf8');
  } catch (error) {
    return { error: `cannot read ${flag} ${file}: ${messageOf(error)}` };
  }
}

/** The flags `mikrolb routeros-sim` accepts. */
export const ROUTER_SIM_OPTIONS = {
  port: { type: 'string' },
  host: { type: 'string' },
  'tls-cert': { type: 'string' },
  'tls-key': { type: 'string' },
  user: { type: 'string' },
  password: { type: 'string' },
  'read-only-user': { type: 'string' },
  'read-only-password': { type: 'string' },
  version: { type: 'string' },
  'legacy-login': { type: 'boolean' },
  seed: { type: 'string' },
} as const satisfies NonNullable<ParseArgsConfig['options']>;

async function parse(argv: string[], env: Readonly<Record<string, string | undefined>>): Promise<Parsed> {
  let values;
  try {
    ({ values } = parseArgs({ args: argv, strict: true, allowPositionals: false, options: ROUTER_SIM_OPTIONS }));
  } catch (error) {
    return { ok: false, message: messageOf(error) };
  }
  const withTls = values['tls-cert'] !== undefined || values['tls-key'] !== undefined;
  if (withTls && (values['tls-cert'] === undefined || values['tls-key'] === undefined)) {
    return { ok: false, message: '--tls-cert and --tls-key go together' };
  }
  // digits only: Number() would take "0x1f90" as 8080 and "" as 0 (a random port)
  const port = values.port === undefined ? (withTls ? 8729 : 8728) : /^\d{1,5}$/.test(values.port) ? Number(values.port) : Number.NaN;
  if (!Number.isInteger(port) || port < 0 || port > 65535) return { ok: false, message: `--port "${values.port ?? ''}" is not a port (0-65535; 0: any free port)` };
  if (values.version !== undefined && !/^\d+\.\d+(\.\d+)?$/.test(values.version)) {
    return { ok: false, message: `--version ${values.version} does not look like 7.19.1` };
  }
  const options: RouterSimOptions = { port, host: values.host ?? '127.0.0.1', legacyLogin: values['legacy-login'] ?? false };
  if (values.version !== undefined) options.version = values.version;
  options.users = [{ name: values.user ?? (env.ROUTEROS_USERNAME?.trim() || 'admin'), password: values.password ?? env.ROUTEROS_PASSWORD ?? '', group: 'full' }];
  if (values['read-only-user'] !== undefined) {
    options.users.push({ name: values['read-only-user'], password: values['read-only-password'] ?? '', group: 'read' });
  }
  if (values.seed !== undefined) {
    const seed = await readSeed(values.seed);
    if (typeof seed === 'string') return { ok: false, message: seed };
    options.initialState = seed;
  }
  if (values['tls-cert'] !== undefined && values['tls-key'] !== undefined) {
    const cert = await readPem(values['tls-cert'], '--tls-cert');
    const key = await readPem(values['tls-key'], '--tls-key');
    if (typeof cert !== 'string') return { ok: false, message: cert.error };
    if (typeof key !== 'string') return { ok: false, message: key.error };
    try {
      createSecureContext({ cert, key });
    } catch (error) {
      return { ok: false, message: `--tls-cert ${values['tls-cert']} and --tls-key ${values['tls-key']} are not a PEM certificate and its key: ${messageOf(error)}` };
    }
    options.tls = { cert, key };
  }
  return { ok: true, options };
}

function stopSignal(): { signal: AbortSignal; release(): void } {
  const controller = new AbortController();
  const stop = (): void => controller.abort();
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
  return {
    signal: controller.signal,
    release: () => {
      process.off('SIGINT', stop);
      process.off('SIGTERM', stop);
    },
  };
}

/**
 * `mikrolb routeros-sim`: serves the simulator, prints `ROUTEROS_URL=api://127.0.0.1:PORT` once it
 * listens, and runs until SIGINT/SIGTERM (or `io.signal`). Exit codes: 0 stopped, 1 could not start,
 * 2 usage error. `env` supplies ROUTEROS_USERNAME/ROUTEROS_PASSWORD as default credentials.
 */
export async function runRouterSimCli(
  argv: string[],
  env: Readonly<Record<string, string | undefined>>,
  io: RouterSimCliIo = { stdout: process.stdout, stderr: process.stderr },
): Promise<number> {
  const parsed = await parse(argv, env);
  if (!parsed.ok) {
    // one line, as every mikrolb command's usage error (lib/cli/io.ts)
    io.stderr.write(`mikrolb routeros-sim: ${parsed.message} (see mikrolb routeros-sim --help)\n`);
    return 2;
  }
  const stopper = io.signal === undefined ? stopSignal() : { signal: io.signal, release: () => undefined };
  try {
    const sim = await startRouterSim(parsed.options);
    io.stdout.write(`ROUTEROS_URL=${sim.url}\n`);
    if (!stopper.signal.aborted) {
      await new Promise<void>((resolve) => stopper.signal.addEventListener('abort', () => resolve(), { once: true }));
    }
    await sim.close();
    return 0;
  } catch (error) {
    io.stderr.write(`mikrolb routeros-sim: cannot start: ${messageOf(error)}\n`);
    return 1;
  } finally {
    stopper.release();
  }
}
