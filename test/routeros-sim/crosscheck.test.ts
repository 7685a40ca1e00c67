import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import { startRouterSim, type RouterSim } from '../../lib/routeros/sim/index.js';
import { ensureLibrouteros, type PythonClient } from './librouteros.js';

/**
 * Cross-checks the simulator with a client we did not write: librouteros (Python), fetched from
 * PyPI into the project's cache or, failing that, Debian's python3-librouteros (see
 * librouteros.ts). A missing client is a failure, not a skip.
 */
const SCRIPT = fileURLToPath(new URL('./crosscheck.py', import.meta.url));

interface ScriptRun {
  code: number;
  stdout: string;
  stderr: string;
}

function runScript(client: PythonClient, args: string[]): Promise<ScriptRun> {
  const env = { ...process.env, PYTHONPATH: client.path };
  return new Promise((resolve) => {
    // Asynchronous on purpose: the simulator answers from this same event loop.
    execFile(client.python, [SCRIPT, ...args], { timeout: 60_000, env }, (error, stdout, stderr) => {
      const code = error === null ? 0 : typeof error.code === 'number' ? error.code : 1;
      resolve({ code, stdout, stderr });
    });
  });
}

async function crosscheck(sim: RouterSim, extra: string[] = []): Promise<Record<string, unknown>> {
  const client = await ensureLibrouteros();
  const run = await runScript(client, [sim.host, String(sim.port), 'api', 'pa55', ...extra]);
  if (run.code === 3) throw new Error(`librouteros did not import (${client.source}):\n${run.stdout}`);
  if (run.code !== 0) throw new Error(`crosscheck.py failed (exit ${run.code}):\n${run.stderr}${run.stdout}`);
  const parsed: unknown = JSON.parse(run.stdout);
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) throw new Error(`unexpected output: ${run.stdout}`);
  return Object.fromEntries(Object.entries(parsed));
}

/** What librouteros reports, identical for every mode except the raw empty-print reply. */
const expected = (version: string, emptyReply: string[]) => ({
  wrong_password: { message: 'invalid user name or password (6)', category: null },
  resource_version: `${version} (stable)`,
  ether_interfaces: ['ether1', 'ether2'],
  not_ether: ['bridge', 'lo'],
  address_id: '*5',
  duplicate_address_trap: { message: 'failure: already have such address', category: null },
  bad_interface_trap: { message: 'input does not match any value of interface', category: 1 },
  nat_ids: ['*6', '*7', '*8'],
  nat_query: [
    { '.id': '*6', comment: 'mikrolb:svc-renamed', 'to-addresses': '10.0.0.1', nth: '3,1', disabled: true },
    { '.id': '*8', comment: 'mikrolb:svc', 'to-addresses': '10.0.0.3', disabled: false },
  ],
  nat_after_remove: ['*6', '*8'],
  remove_missing_trap: { message: 'no such item', category: 0 },
  unknown_parameter_trap: { message: 'unknown parameter bogus-field', category: 1 },
  no_such_command_trap: { message: 'no such command', category: 0 },
  empty_filter_print: [],
  empty_print_reply_words: emptyReply,
  tagged_print: [
    ['!re', '.tag=seven', '=name=ether1'],
    ['!done', '.tag=seven'],
  ],
  quit: 'session terminated on request',
});

let sim: RouterSim | undefined;
afterEach(async () => {
  await sim?.close();
  sim = undefined;
});

describe('cross-check with librouteros (Python, PyPI or Debian)', () => {
  it.each([
    ['7.19.1', false, ['!empty', '!done']],
    ['7.17.2', false, ['!done']],
    ['6.42.12', true, ['!done']],
  ])('RouterOS %s (legacy login: %s)', async (version, legacyLogin, emptyReply) => {
    sim = await startRouterSim({ version, legacyLogin, users: [{ name: 'api', password: 'pa55', group: 'full' }] });
    const seen = await crosscheck(sim, legacyLogin ? ['--legacy'] : []);
    const { librouteros: _version, ...rest } = seen;
    expect(rest).toEqual(expected(version, emptyReply));
    expect(sim.state().menus['/ip/firewall/nat']).toEqual([
      {
        '.id': '*6', chain: 'dstnat', action: 'dst-nat', protocol: 'tcp', 'dst-address': '192.0.2.10', 'dst-port': '80',
        nth: '3,1', 'to-addresses': '10.0.0.1', 'to-ports': '8080', comment: 'mikrolb:svc-renamed', disabled: 'true',
      },
      {
        '.id': '*8', chain: 'dstnat', action: 'dst-nat', protocol: 'tcp', 'dst-address': '192.0.2.10', 'dst-port': '80',
        'to-addresses': '10.0.0.3', 'to-ports': '8080', comment: 'mikrolb:svc',
      },
    ]);
  });
});
