/**
 * deploy/webhook renders with kustomize, its pieces name each other consistently, and the
 * ValidatingWebhookConfiguration passes the real API server's validation (server-side dry run).
 */
import { fileURLToPath } from 'node:url';
import { beforeAll, describe, expect, it } from 'vitest';
import { parseAllDocuments } from 'yaml';
import { z } from 'zod';
import { VALIDATE_PATH } from '../../functions/webhook/app.js';
import { testCluster } from '../helpers/cluster.js';

const { kubectl } = testCluster();
const dir = fileURLToPath(new URL('../../deploy/webhook', import.meta.url));

const Meta = z.object({ name: z.string(), namespace: z.string().optional(), annotations: z.record(z.string(), z.string()).optional() });
const Doc = z.object({ kind: z.string(), metadata: Meta }).loose();
const Webhook = z.object({
  metadata: Meta,
  webhooks: z.array(z.object({
    name: z.string(),
    rules: z.array(z.object({ apiGroups: z.array(z.string()), apiVersions: z.array(z.string()), operations: z.array(z.string()), resources: z.array(z.string()) })),
    clientConfig: z.object({ service: z.object({ namespace: z.string(), name: z.string(), path: z.string(), port: z.number() }) }),
    admissionReviewVersions: z.array(z.string()),
    sideEffects: z.string(),
    failurePolicy: z.string(),
    timeoutSeconds: z.number(),
  })).length(1),
});
const Service = z.object({ metadata: Meta, spec: z.object({ ports: z.array(z.object({ port: z.number(), targetPort: z.union([z.string(), z.number()]) })) }) });
const Certificate = z.object({ metadata: Meta, spec: z.object({ secretName: z.string(), dnsNames: z.array(z.string()), issuerRef: z.object({ kind: z.string(), name: z.string() }) }) });

let rendered = '';
const docs: z.infer<typeof Doc>[] = [];
const only = <S extends z.ZodType>(kind: string, schema: S): z.infer<S> => {
  const found = docs.filter((d) => d.kind === kind);
  expect(found, kind).toHaveLength(1);
  return schema.parse(found[0]);
};

beforeAll(async () => {
  const out = await kubectl(['kustomize', dir]);
  expect(out.stderr).toBe('');
  rendered = out.stdout;
  for (const doc of parseAllDocuments(rendered)) docs.push(Doc.parse(doc.toJS()));
});

describe('deploy/webhook', () => {
  it('renders the Service, the webhook configuration, the Issuer and the Certificate', () => {
    expect(docs.map((d) => `${d.kind}/${d.metadata.name}`).sort()).toEqual([
      'Certificate/mikrolb-webhook', 'Issuer/mikrolb-selfsigned', 'Service/mikrolb-webhook', 'ValidatingWebhookConfiguration/mikrolb-ippool-validation',
    ]);
  });

  it('registers ippools.mikrolb.de for CREATE and UPDATE of IPPools, failing closed within 5 s', () => {
    const [hook] = only('ValidatingWebhookConfiguration', Webhook).webhooks;
    expect(hook).toMatchObject({
      name: 'ippools.mikrolb.de',
      rules: [{ apiGroups: ['mikrolb.de'], apiVersions: ['v1alpha1'], operations: ['CREATE', 'UPDATE'], resources: ['ippools'] }],
      admissionReviewVersions: ['v1'], sideEffects: 'None', failurePolicy: 'Fail', timeoutSeconds: 5,
      clientConfig: { service: { namespace: 'mikrolb-system', name: 'mikrolb-webhook', path: VALIDATE_PATH, port: 443 } },
    });
  });

  it('points the webhook at the Service, whose certificate names it, and injects that certificate\'s CA', () => {
    const config = only('ValidatingWebhookConfiguration', Webhook);
    const service = only('Service', Service);
    const certificate = only('Certificate', Certificate);
    const target = config.webhooks[0]?.clientConfig.service;
    expect(target).toMatchObject({ name: service.metadata.name, namespace: service.metadata.namespace });
    expect(service.spec.ports.map((p) => p.port)).toContain(target?.port);
    expect(certificate.spec.dnsNames).toContain(`${service.metadata.name}.${service.metadata.namespace}.svc`);
    expect(config.metadata.annotations?.['cert-manager.io/inject-ca-from']).toBe(`${certificate.metadata.namespace}/${certificate.metadata.name}`);
    expect(certificate.spec.issuerRef).toEqual({ kind: 'Issuer', name: only('Issuer', Doc).metadata.name });
  });

  it('is a ValidatingWebhookConfiguration the API server accepts', async () => {
    const [config] = parseAllDocuments(rendered).map((d) => d.toJS()).filter((d) => Doc.parse(d).kind === 'ValidatingWebhookConfiguration');
    const out = await kubectl(['apply', '--dry-run=server', '-f', '-'], JSON.stringify(config));
    expect(out.stderr).toBe('');
    expect(out.stdout).toContain('mikrolb-ippool-validation');
  });
});
