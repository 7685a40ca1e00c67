import { spawn } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { stringify } from 'yaml';
import { z } from 'zod';
import { IPAddressClaimSchema, IPAllocationSchema, IPPoolSchema, type IPAddressClaim, type IPAllocation, type IPPool } from '../../lib/k8s/schemas.js';
import { RouterStateSchema } from '../../lib/router/state.js';
import type { CliIo, Env } from '../../lib/cli/io.js';
import { main } from '../../bridge/main.js';

/** Helpers for the CLI's tests: run `main` in process with captured output. */

export const REPO = fileURLToPath(new URL('../../', import.meta.url));
export const FIXTURES = join(REPO, 'test', 'fixtures');
export const fixture = (...parts: string[]): string => join(FIXTURES, ...parts);

export interface Ran {
  code: number;
  stdout: string;
  stderr: string;
}

export async function run(argv: string[], env: Env = {}): Promise<Ran> {
  let stdout = '';
  let stderr = '';
  const io: CliIo = { stdout: { write: (t: string) => (stdout += t) }, stderr: { write: (t: string) => (stderr += t) } };
  const code = await main(argv, env, io);
  return { code, stdout, stderr };
}

/** The document `mikrolb invoke` prints, checked field by field (nothing more, nothing less). */
export const InvokeOutputSchema = z.strictObject({
  function: z.string(),
  response: z.strictObject({ status: z.number().int(), body: z.record(z.string(), z.unknown()), retryAfterSeconds: z.number().optional() }),
  writes: z.array(z.strictObject({
    verb: z.enum(['create', 'update', 'delete', 'patch']),
    kind: z.string(),
    namespace: z.string().optional(),
    name: z.string(),
    subresource: z.literal('status').optional(),
  })),
  events: z.array(z.strictObject({
    type: z.enum(['Normal', 'Warning']),
    reason: z.string(),
    note: z.string(),
    regarding: z.strictObject({ kind: z.string(), name: z.string(), namespace: z.string().optional() }),
  })),
  objects: z.array(z.looseObject({ kind: z.string(), metadata: z.looseObject({ name: z.string(), namespace: z.string().optional() }) })),
  router: z.strictObject({ commands: z.array(z.array(z.string())), state: RouterStateSchema }).optional(),
});
export type InvokeOutput = z.infer<typeof InvokeOutputSchema>;

export function parseOutput(ran: Ran): InvokeOutput {
  return InvokeOutputSchema.parse(JSON.parse(ran.stdout));
}

/** `mikrolb invoke allocate --state <state> <target...> --quiet` */
export async function invokeAllocate(state: string, ...target: string[]): Promise<{ ran: Ran; out: InvokeOutput }> {
  const ran = await run(['invoke', 'allocate', '--state', state, ...target, '--quiet']);
  if (ran.stdout === '') throw new Error(`no output (exit ${ran.code}): ${ran.stderr}`);
  return { ran, out: parseOutput(ran) };
}

// ---- reading the outcome like a user of `kubectl get` would ----------------------------------

const ofKind = <T>(out: InvokeOutput, kind: string, schema: z.ZodType<T>): T[] =>
  out.objects.filter((o) => o.kind === kind).map((o) => schema.parse(o));

export const allocationsOf = (out: InvokeOutput): IPAllocation[] => ofKind(out, 'IPAllocation', IPAllocationSchema);
export const poolsOf = (out: InvokeOutput): IPPool[] => ofKind(out, 'IPPool', IPPoolSchema);
export const claimsOf = (out: InvokeOutput): IPAddressClaim[] => ofKind(out, 'IPAddressClaim', IPAddressClaimSchema);

/** `name → "phase address ReadyReason"`, with `(deleting)` for an allocation being deleted. */
export function allocationSummary(out: InvokeOutput): Record<string, string> {
  return Object.fromEntries(allocationsOf(out).map((a) => {
    const ready = a.status?.conditions?.find((c) => c.type === 'Ready')?.reason ?? '-';
    const line = `${a.status?.phase ?? '-'} ${a.status?.address ?? '-'} ${ready}${a.metadata.deletionTimestamp ? ' (deleting)' : ''}`;
    return [a.metadata.name, line];
  }));
}

/**
 * The addresses held, as `kubectl get ipaddressclaims` shows them: `pool → ["address=allocationName", ...]`
 * for every pool (`[]` when nothing is claimed from it) and every pool a claim names.
 */
export function claims(out: InvokeOutput): Record<string, string[]> {
  const byPool = new Map<string, string[]>(poolsOf(out).map((p) => [p.metadata.name, []]));
  for (const c of claimsOf(out)) byPool.set(c.spec.poolName, [...(byPool.get(c.spec.poolName) ?? []), `${c.spec.address}=${c.spec.allocationName}`]);
  return Object.fromEntries(byPool);
}

export const writeLines = (out: InvokeOutput): string[] =>
  out.writes.map((w) => [w.verb, w.kind, w.namespace ? `${w.namespace}/${w.name}` : w.name, w.subresource].filter(Boolean).join(' '));

export const eventLines = (out: InvokeOutput): string[] =>
  out.events.map((e) => `${e.type} ${e.reason} ${e.regarding.kind}/${e.regarding.name}: ${e.note}`);

/** A scratch folder for files a test writes; `remove` when done. */
export async function scratch(): Promise<{ file(name: string, text: string): Promise<string>; dir(name: string): string; state(objects: readonly unknown[]): Promise<string>; remove(): Promise<void> }> {
  const dir = await mkdtemp(join(tmpdir(), 'mikrolb-invoke-'));
  let n = 0;
  const file = async (name: string, text: string): Promise<string> => {
    const path = join(dir, `${++n}-${name}`);
    await writeFile(path, text);
    return path;
  };
  return {
    file,
    // an empty folder (made at once: the test tables read their paths when they run)
    dir: (name) => {
      const path = join(dir, `${++n}-${name}`);
      mkdirSync(path);
      return path;
    },
    // the final objects of a run as a YAML stream, to feed them back in as --state
    state: (objects) => file('state.yaml', objects.map((o) => stringify(o)).join('---\n')),
    remove: () => rm(dir, { recursive: true, force: true }),
  };
}

export interface Exited {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** `mikrolb <args>` as a child process (as the bin runs), with only PATH and `env`. */
export const runBin = (args: readonly string[], env: Record<string, string> = {}): Promise<Exited> => runScript('bridge/main.ts', args, env);

/** A TypeScript script of the repository (`bridge/main.ts`, the `npm start` script) as a child process, with only PATH and `env`. */
export function runScript(script: string, args: readonly string[], env: Record<string, string> = {}): Promise<Exited> {
  return new Promise((resolve, reject) => {
    const child = spawn(join(REPO, 'node_modules', '.bin', 'tsx'), [script, ...args], {
      cwd: REPO, env: { PATH: process.env.PATH ?? '/usr/bin:/bin', ...env }, stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}
