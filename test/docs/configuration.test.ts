/**
 * docs/configuration.md against the code, beyond the names (docs.test.ts):
 * - every variable its tables give a default written as a value (`5m`, `8080`, `false`) takes
 *   that value when unset: setting it to the documented default changes nothing the parsers read;
 * - the fixed bounds it quotes are the code's constants.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { bridgeConfigFromEnv } from '../../bridge/config.js';
import { webhookCertDir } from '../../functions/settings.js';
import { AUTH_CACHE } from '../../lib/auth/authenticator.js';
import { invokeAuthFromEnv } from '../../lib/auth/config.js';
import { classesFromEnv, portFromEnv, routerFromEnv, type Env } from '../../lib/config.js';
import { DEFAULT_MAX_BODY_BYTES } from '../../lib/events/cloudevent.js';
import { WEBHOOK_BODIES_IN_FLIGHT_BYTES, WEBHOOK_MAX_BODY_BYTES } from '../../lib/http/body-limit.js';
import { CONNECTION_LIMITS } from '../../lib/http/serve.js';
import { ROOT } from './sources.js';
import { MIB, MINUTE, misquoted, Q, type Quoted, SECOND } from './quoted.js';

const DOC = readFileSync(join(ROOT, 'docs/configuration.md'), 'utf8');
const FLAT = DOC.replace(/\s+/g, ' ');

// ---- defaults -------------------------------------------------------------------------------------

/** `| variable | default | …` rows: each variable of the first cell, and the default's leading `value`. */
export function documentedDefaults(markdown: string): { name: string; value: string; line: number }[] {
  const out: { name: string; value: string; line: number }[] = [];
  let inTable = false;
  markdown.split('\n').forEach((row, i) => {
    const cells = row.trim().startsWith('|') ? row.trim().replace(/^\||\|$/g, '').split(/(?<!\\)\|/).map((c) => c.trim()) : [];
    if (cells.length === 0) return void (inTable = false);
    if (cells[0] === 'variable' && cells[1] === 'default') return void (inTable = true);
    if (!inTable || /^-{3}/.test(cells[0] ?? '')) return;
    const value = /^`([^`]+)`/.exec(cells[1] ?? '')?.[1];
    if (value === undefined || /^[A-Z][A-Z0-9_]*$/.test(value)) return; // required, unset, another variable's value …
    for (const m of (cells[0] ?? '').matchAll(/`([A-Z][A-Z0-9_]*)`/g)) out.push({ name: m[1] ?? '', value, line: i + 1 });
  });
  return out;
}

/** Every parser an entry point runs, on what it needs besides `env`, as one comparable value. */
const ROUTER = { ROUTEROS_URL: 'api://192.0.2.1', ROUTEROS_USERNAME: 'mikrolb' };
const SUBJECTS = { INVOKE_ALLOWED_SUBJECTS: 'system:serviceaccount:mikrolb-system:mikrolb-bridge' };
/** `env`, and `base` for what it leaves unset; every lookup goes to `env` (which may record it). */
const over = (base: Env, env: Env): Env => new Proxy<Record<string, string | undefined>>({}, { get: (_, k) => (typeof k === 'string' ? env[k] ?? base[k] : undefined) });
const parseAll = (env: Env): unknown => ({
  bridge: bridgeConfigFromEnv(env, { functionUrls: 'optional' }),
  classes: classesFromEnv(env),
  router: routerFromEnv(over(ROUTER, env)),
  port: portFromEnv(env, 'PORT', 8080),
  auth: invokeAuthFromEnv(over(SUBJECTS, env)),
  webhookCertDir: webhookCertDir(env),
});

/** The variables parseAll reads. */
function readByParsers(): Set<string> {
  const seen = new Set<string>();
  parseAll(new Proxy<Record<string, string | undefined>>({}, { get: (_, key) => (typeof key === 'string' && seen.add(key), undefined) }));
  return seen;
}

describe('the defaults docs/configuration.md states', () => {
  const defaults = documentedDefaults(DOC);

  it('reads them from the tables (the check itself can fail)', () => {
    expect(documentedDefaults('| variable | default | meaning |\n| --- | --- | --- |\n| `A_B`, `C` | `5m` (else `D`) | x |\n| `E` | required | y |\n\n| `F` | `1` |'))
      .toEqual([{ name: 'A_B', value: '5m', line: 3 }, { name: 'C', value: '5m', line: 3 }]);
    expect(defaults.length).toBeGreaterThan(20);
  });

  it('are the values the code takes when the variable is unset', () => {
    const read = readByParsers();
    const unset = parseAll({});
    const wrong = defaults.filter(({ name }) => read.has(name)).flatMap(({ name, value, line }) => {
      try {
        expect(parseAll({ [name]: value })).toEqual(unset);
        return [];
      } catch {
        return [`docs/configuration.md:${line}: ${name}=${value}`];
      }
    });
    expect(wrong).toEqual([]);
  });

  it('every variable with a stated default is one the parsers read (else the check above says nothing of it)', () => {
    const read = readByParsers();
    const local = new Set(['LOG_LEVEL']); // npm start's, read by the local stack
    expect(defaults.filter(({ name }) => !read.has(name) && !local.has(name)).map(({ name }) => name)).toEqual([]);
  });
});

// ---- fixed bounds ---------------------------------------------------------------------------------

const QUOTED: readonly Quoted[] = [
  {
    claim: new RegExp(`A reviewed token is remembered \\(by its SHA-256, at most ${Q} tokens\\) until its \`exp\` claim, and for at most ${Q} minutes`),
    values: [{ unit: 1, code: AUTH_CACHE.maxEntries }, { unit: MINUTE, code: AUTH_CACHE.maxTtlMs }],
  },
  {
    claim: new RegExp(`A refused token is remembered for ${Q} s \\(at most ${Q} of them,`),
    values: [{ unit: SECOND, code: AUTH_CACHE.refusedTtlMs }, { unit: 1, code: AUTH_CACHE.maxRefused }],
  },
  { claim: new RegExp(`every path \\| ${Q} MiB \\|`), values: [{ unit: MIB, code: WEBHOOK_MAX_BODY_BYTES }] },
  { claim: new RegExp(`\`release\`\\) \\| ${Q} MiB \\|`), values: [{ unit: MIB, code: DEFAULT_MAX_BODY_BYTES }] },
  { claim: new RegExp(`bounds the bodies it holds at once: ${Q} MiB in all`), values: [{ unit: MIB, code: WEBHOOK_BODIES_IN_FLIGHT_BYTES }] },
  {
    claim: new RegExp(`the request line and headers must arrive within ${Q} s and the whole request within ${Q} s .* must finish within ${Q} s, and at most ${Q} connections are open at once`),
    values: [
      { unit: SECOND, code: CONNECTION_LIMITS.headersTimeoutMs }, { unit: SECOND, code: CONNECTION_LIMITS.requestTimeoutMs },
      { unit: SECOND, code: CONNECTION_LIMITS.handshakeTimeoutMs }, { unit: 1, code: CONNECTION_LIMITS.maxConnections },
    ],
  },
];

describe('the fixed bounds docs/configuration.md quotes', () => {
  it('each claim is still there, with the code\'s value', () => {
    expect(misquoted(QUOTED, FLAT)).toEqual([]);
  });

  it('says nothing that contradicts them', () => {
    expect(FLAT.match(/Refused tokens are not remembered[^.]*/g) ?? []).toEqual([]);
  });
});
