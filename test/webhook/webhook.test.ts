/**
 * The IPPool admission webhook against the real API server: the app runs over TLS on loopback
 * with a certificate signed by the test cluster's CA, and a ValidatingWebhookConfiguration made
 * from deploy/webhook/validating-webhook.yaml points the API server at it. An objectSelector
 * limits it to this file's pools, so the other test files sharing the cluster never meet it.
 */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { parse } from 'yaml';
import { z } from 'zod';
import { createWebhookApp, poolLister, VALIDATE_PATH } from '../../functions/webhook/app.js';
import { serveTls, type ServedTls } from '../../functions/webhook/serve-tls.js';
import { viewPools } from '../../lib/core/pools.js';
import { contains, count, describeSet, parseAddress } from '../../lib/ip/index.js';
import { apiServerPort } from '../../lib/k8s/client.js';
import { isInvalid, isKubeError } from '../../lib/k8s/errors.js';
import { listPools } from '../../lib/k8s/typed.js';
import { memoryLogger } from '../../lib/log/logger.js';
import { issueServingCert } from '../cluster/pki.js';
import { testCluster, uniq } from '../helpers/cluster.js';

const { kubectl, transport } = testCluster();
const kube = apiServerPort(transport);
const LABEL = 'mikrolb.de/webhook-test';
const run = uniq('run');
const configName = uniq('mikrolb-ippool-validation-test');
const legacyOld = uniq('legacy-old');
const legacyYoung = uniq('legacy-young');
/** What kubectl prints for a denial (a 422 Invalid Status with field causes). */
const invalid = (name: string): string => `The IPPool "${name}" is invalid: `;
const created = new Set<string>();
const ReviewFields = z.object({ name: z.string(), allowed: z.boolean() }).loose();
const reviewLog = memoryLogger();
/** The pools the webhook reviewed, from its log entries. */
const reviewed = (): { name: string; allowed: boolean }[] => reviewLog.entries
  .filter((e) => e.level === 'info' && e.msg === 'Reviewed an IPPool')
  .map((e) => ReviewFields.parse(e.fields))
  .map(({ name, allowed }) => ({ name, allowed }));
let served: ServedTls | undefined;

function pool(name: string, ipFamily: 'IPv4' | 'IPv6', addresses: string[]): string {
  created.add(name);
  return JSON.stringify({
    apiVersion: 'mikrolb.de/v1alpha1', kind: 'IPPool',
    metadata: { name, labels: { [LABEL]: run } },
    spec: { ipFamily, addresses },
  });
}

const apply = (manifest: string, ...flags: string[]) => kubectl(['apply', ...flags, '-f', '-'], manifest);
const exists = async (name: string): Promise<boolean> => (await kubectl(['get', 'ippool', name])).code === 0;

const WebhookConfigSchema = z.object({
  apiVersion: z.literal('admissionregistration.k8s.io/v1'),
  kind: z.literal('ValidatingWebhookConfiguration'),
  webhooks: z.array(z.object({ name: z.string(), clientConfig: z.object({ service: z.unknown() }) }).loose()).length(1),
}).loose();

/** The deployed configuration, pointed at `url` and limited to this file's pools. */
async function testWebhookConfig(url: string, caPem: string): Promise<string> {
  const deployed = WebhookConfigSchema.parse(parse(await readFile(new URL('../../deploy/webhook/validating-webhook.yaml', import.meta.url), 'utf8')));
  return JSON.stringify({
    ...deployed,
    metadata: { name: configName },
    webhooks: deployed.webhooks.map((w) => ({
      ...w,
      clientConfig: { url, caBundle: Buffer.from(caPem).toString('base64') },
      objectSelector: { matchLabels: { [LABEL]: run } },
    })),
  });
}

/** Webhook configurations take effect a moment after they are stored: wait for a known-bad pool to bounce. */
async function waitUntilEnforced(): Promise<void> {
  const name = uniq('probe');
  const probe = pool(name, 'IPv4', ['203.0.113.300']);
  let last = '';
  for (const deadline = Date.now() + 30_000; Date.now() < deadline; await sleep(200)) {
    const out = await apply(probe, '--dry-run=server');
    if (out.stderr.includes(invalid(name))) return;
    last = `${out.stdout}${out.stderr}`.trim();
  }
  throw new Error(`the webhook configuration did not take effect within 30 s; the probe's last answer: ${last}`);
}

beforeAll(async () => {
  // Two overlapping pools created before any webhook exists, the second one a second later.
  expect((await apply(pool(legacyOld, 'IPv4', ['203.0.113.128/27']))).code).toBe(0);
  await sleep(1100);
  expect((await apply(pool(legacyYoung, 'IPv4', ['203.0.113.144-203.0.113.175']))).code).toBe(0);

  const clusterDir = inject('clusterDir');
  const files = await issueServingCert(clusterDir, uniq('webhook'));
  const ca = await readFile(join(clusterDir, 'ca.crt'), 'utf8');
  const app = createWebhookApp({
    listPools: poolLister(kube),
    log: reviewLog,
  });
  served = await serveTls(app, { certFile: files.cert, keyFile: files.key, port: 0, hostname: '127.0.0.1' });
  const registered = await apply(await testWebhookConfig(`https://127.0.0.1:${served.port}${VALIDATE_PATH}`, ca));
  expect(registered.stderr).toBe('');
  await waitUntilEnforced();
});

afterAll(async () => {
  // The configuration first: without it, nothing depends on the server any more.
  await kubectl(['delete', 'validatingwebhookconfiguration', configName, '--ignore-not-found']);
  if (created.size > 0) await kubectl(['delete', 'ippool', '--ignore-not-found', '--wait=false', ...created]);
  await served?.close();
});

describe('the IPPool webhook behind the real API server', () => {
  it('admits valid pools of both families, having reviewed them', async () => {
    const v4 = uniq('valid-v4');
    const v6 = uniq('valid-v6');
    const out = await apply(`${pool(v4, 'IPv4', ['203.0.113.0/28'])}\n${pool(v6, 'IPv6', ['2001:db8:5eb::/120'])}`);
    expect(out.stderr).toBe('');
    expect(out.code).toBe(0);
    expect(await exists(v4)).toBe(true);
    expect(reviewed()).toContainEqual({ name: v4, allowed: true });
    expect(reviewed()).toContainEqual({ name: v6, allowed: true });
  });

  it('rejects a pool with bad entries through kubectl apply, one field error each', async () => {
    const name = uniq('bad-entries');
    const out = await apply(pool(name, 'IPv4', ['203.0.113.64/28', '203.0.113.300', '203.0.113.90-203.0.113.80']));
    expect(out.code).not.toBe(0);
    expect(out.stderr).toContain(invalid(name));
    expect(out.stderr).toContain('spec.addresses[1]: "203.0.113.300" is not a valid address');
    expect(out.stderr).toContain('spec.addresses[2]: range 203.0.113.90-203.0.113.80 is reversed');
    expect(out.stderr).not.toContain('spec.addresses[0]');
    expect(await exists(name)).toBe(false);
  });

  it('denies other API clients with the webhook\'s message and a 422 Invalid status', async () => {
    const name = uniq('bad-client');
    created.add(name);
    const denial = await kube.create('IPPool', { metadata: { name, labels: { [LABEL]: run } }, spec: { ipFamily: 'IPv4', addresses: ['203.0.113.70-203.0.113.60'] } })
      .then(() => undefined, (e: unknown) => e);
    expect(isInvalid(denial)).toBe(true);
    expect(isKubeError(denial) && denial.message).toBe(
      `admission webhook "ippools.mikrolb.de" denied the request: IPPool "${name}" is invalid: spec.addresses[0]: range 203.0.113.70-203.0.113.60 is reversed: its start is after its end`,
    );
  });

  it('rejects a pool that overlaps an existing one, naming it and the shared addresses', async () => {
    const first = uniq('first');
    const second = uniq('second');
    expect((await apply(pool(first, 'IPv4', ['203.0.113.32/28']))).code).toBe(0);
    const out = await apply(pool(second, 'IPv4', ['203.0.113.40-203.0.113.50']));
    expect(out.code).not.toBe(0);
    expect(out.stderr).toContain(`${invalid(second)}spec.addresses: shares 203.0.113.40-203.0.113.47 with IPPool "${first}"`);
    expect(await exists(second)).toBe(false);
  });

  it('lets a pool grow over its own addresses (an update is not compared with itself)', async () => {
    const name = uniq('growing');
    expect((await apply(pool(name, 'IPv4', ['203.0.113.96/28']))).code).toBe(0);
    const out = await apply(pool(name, 'IPv4', ['203.0.113.96/27']));
    expect(out.stderr).toBe('');
    expect((await kubectl(['get', 'ippool', name, '-o', 'jsonpath={.spec.addresses[0]}'])).stdout).toBe('203.0.113.96/27');
  });

  it('rejects a serviceAllocation with bad selectors (the webhook) or a negative priority (the CRD schema)', async () => {
    const scoped = (name: string, serviceAllocation: unknown): string =>
      JSON.stringify({ ...JSON.parse(pool(name, 'IPv4', ['203.0.113.224/28'])), spec: { ipFamily: 'IPv4', addresses: ['203.0.113.224/28'], serviceAllocation } });
    const badSelector = uniq('bad-scope');
    const out = await apply(scoped(badSelector, { namespaces: ['team-a'], serviceSelectors: [{ matchExpressions: [{ key: 'tier', operator: 'In' }] }] }));
    expect(out.code).not.toBe(0);
    expect(out.stderr).toContain(`${invalid(badSelector)}spec.serviceAllocation.serviceSelectors[0].matchExpressions[0].values: must name at least one value for operator In`);
    expect(reviewed()).toContainEqual({ name: badSelector, allowed: false });
    const negative = uniq('negative');
    const refused = await apply(scoped(negative, { priority: -1 }));
    expect(refused.stderr).toMatch(/spec\.serviceAllocation\.priority: Invalid value: -1: .*greater than or equal to 0/);
    expect(reviewed().map((r) => r.name)).not.toContain(negative); // refused before admission
    const good = uniq('good-scope');
    const admitted = await apply(scoped(good, { priority: 1, namespaceSelectors: [{ matchLabels: { 'example.com/tenant': 'a' } }] }));
    expect(admitted.stderr).toBe('');
    expect((await kubectl(['get', 'ippool', good, '-o', 'jsonpath={.spec.serviceAllocation.priority}'])).stdout).toBe('1');
  });

  describe('a pool that overlapped before the webhook existed', () => {
    it('owns none of the shared addresses: they belong to the older pool, and it reports the conflict', async () => {
      const views = viewPools((await listPools(kube)).items);
      const viewOf = (name: string) => {
        const view = views.find((v) => v.name === name);
        if (view === undefined) throw new Error(`pool ${name} is missing`);
        return view;
      };
      const [old, young] = [viewOf(legacyOld), viewOf(legacyYoung)];
      expect(young.conflicts.map((c) => [c.otherPool, describeSet(c.shared)])).toEqual([[legacyOld, '203.0.113.144-203.0.113.159']]);
      expect(describeSet(young.owned)).toBe('203.0.113.160-203.0.113.175');
      expect(old.conflicts).toEqual([]);
      expect(count(old.owned)).toBe(32n);
      const shared = parseAddress('203.0.113.150');
      expect(shared.ok && contains(old.owned, shared.value)).toBe(true);
      expect(shared.ok && contains(young.owned, shared.value)).toBe(false);
    });

    it('can still be changed when the change shares nothing new, with a warning', async () => {
      const out = await apply(pool(legacyYoung, 'IPv4', ['203.0.113.144-203.0.113.180']));
      expect(out.code).toBe(0);
      expect(out.stderr).toContain(`Warning: spec.addresses still shares 203.0.113.144-203.0.113.159 with IPPool "${legacyOld}"`);
    });

    it('is rejected when a change would share more', async () => {
      const out = await apply(pool(legacyYoung, 'IPv4', ['203.0.113.140-203.0.113.180']));
      expect(out.code).not.toBe(0);
      expect(out.stderr).toContain(`${invalid(legacyYoung)}spec.addresses: shares 203.0.113.140-203.0.113.143 with IPPool "${legacyOld}"`);
    });
  });
});
