/**
 * The ValidatingAdmissionPolicy of deploy/ holds against the real API server: with the RBAC and
 * the policy of deploy/ applied, MikroLB's ServiceAccounts (impersonated) may change on a Service
 * only what MikroLB owns - its finalizer, and the status of Services of its class (elsewhere only
 * its own condition) - while the admin and everyone else keep what RBAC gives them.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SERVICE_CONDITION } from '../../lib/core/program-status.js';
import { apiServerPort } from '../../lib/k8s/client.js';
import type { Service } from '../../lib/k8s/core-objects.js';
import { FINALIZER } from '../../lib/k8s/keys.js';
import { getService } from '../../lib/k8s/typed.js';
import { testCluster, uniq } from '../helpers/cluster.js';
import { forceDelete } from '../helpers/objects.js';
import { kubeTransport } from '../../lib/k8s/rest.js';
import { actingAs, applyServicePolicy, deniedByPolicy, DENIED_BY_POLICY, dryRunPut, portAs, until } from './policy.js';
import { applyRbac, NAMESPACE } from './render.js';

const { kc, transport, kubectl } = testCluster();
const admin = apiServerPort(transport);
const ns = uniq('policy');
const OUR_CLASS = 'mikrolb.de/controller';

/** The ServiceAccounts RBAC lets update Services (the finalizer) and their status. */
const MAIN_WRITERS = ['mikrolb-controller', 'mikrolb-allocate', 'mikrolb-release'];
const STATUS_WRITERS = ['mikrolb-controller', 'mikrolb-allocate', 'mikrolb-program', 'mikrolb-release'];

const lb = (loadBalancerClass?: string) => ({ type: 'LoadBalancer', allocateLoadBalancerNodePorts: false, ...(loadBalancerClass ? { loadBalancerClass } : {}), ports: [{ name: 'http', port: 80, protocol: 'TCP', targetPort: 8080 }] });
const SERVICES = {
  ours: lb(OUR_CLASS),
  theirs: lb('other.example/lb'),
  classless: lb(),
  plain: { type: 'ClusterIP', ports: [{ name: 'http', port: 80, protocol: 'TCP', targetPort: 8080 }] },
} as const;
type Name = keyof typeof SERVICES;

async function read(name: Name): Promise<Service> {
  const svc = await getService(admin, ns, name);
  if (!svc) throw new Error(`Service ${ns}/${name} is gone`);
  return svc;
}

/** Reads the Service as the admin, changes it with `change`, writes it back as `sa`. */
async function write(sa: string, name: Name, change: (svc: Service) => Service, subresource?: 'status'): Promise<void> {
  const port = portAs(kc, sa);
  const next = change(await read(name));
  await (subresource === 'status' ? port.replaceStatus('Service', next) : port.replace('Service', next));
}

const ingress = (ip: string) => (svc: Service): Service => ({ ...svc, status: { ...svc.status, loadBalancer: { ingress: [{ ip, ipMode: 'VIP' as const }] } } });
const condition = (type: string) => (svc: Service): Service => ({
  ...svc,
  status: { ...svc.status, conditions: [{ type, status: 'True', reason: 'Test', message: 'set by the test', lastTransitionTime: '2026-01-01T00:00:00Z' }] },
});
const withFinalizers = (finalizers: string[]) => (svc: Service): Service => ({ ...svc, metadata: { ...svc.metadata, finalizers } });

beforeAll(async () => {
  await applyRbac(kubectl);
  await applyServicePolicy(kubectl, kc);
  await admin.create('Namespace', { apiVersion: 'v1', kind: 'Namespace', metadata: { name: ns } });
  for (const [name, spec] of Object.entries(SERVICES)) {
    await admin.create('Service', { apiVersion: 'v1', kind: 'Service', metadata: { name, namespace: ns }, spec });
  }
}, 180_000);

afterAll(async () => {
  for (const name of Object.keys(SERVICES)) await forceDelete(admin, 'Service', name, ns);
  await kubectl(['delete', '--ignore-not-found', 'clusterrolebinding', `${ns}-lookalike`]);
});

describe.each(MAIN_WRITERS)('%s on a Service (main resource)', (sa) => {
  it.each(['ours', 'theirs'] as const)('is refused a change of the spec of %s (selector, externalIPs, ports)', async (name) => {
    const before = await read(name);
    await expect(write(sa, name, (s) => ({ ...s, spec: { ...s.spec, selector: { app: 'attacker' } } }))).rejects.toThrow(DENIED_BY_POLICY);
    await expect(write(sa, name, (s) => ({ ...s, spec: { ...s.spec, externalIPs: ['192.0.2.66'] } }))).rejects.toThrow(/may not change a Service's spec/);
    await expect(write(sa, name, (s) => ({ ...s, spec: { ...s.spec, ports: [{ name: 'http', port: 80, protocol: 'TCP', targetPort: 9999 }] } }))).rejects.toThrow(DENIED_BY_POLICY);
    expect((await read(name)).spec).toEqual(before.spec);
  });

  it('is refused a change of labels, annotations or another finalizer', async () => {
    await expect(write(sa, 'ours', (s) => ({ ...s, metadata: { ...s.metadata, labels: { app: 'x' } } }))).rejects.toThrow(/may not change a Service's labels, annotations or owners/);
    await expect(write(sa, 'ours', (s) => ({ ...s, metadata: { ...s.metadata, annotations: { 'mikrolb.de/load-balancer-ips': '192.0.2.7' } } }))).rejects.toThrow(DENIED_BY_POLICY);
    await expect(write(sa, 'ours', withFinalizers(['example.com/other']))).rejects.toThrow(/may add or remove only the finalizer mikrolb.de\/finalizer/);
    expect((await read('ours')).metadata).not.toHaveProperty('labels');
  });

  it.each(['ours', 'plain'] as const)('may add and remove MikroLB\'s finalizer on %s', async (name) => {
    await write(sa, name, withFinalizers([FINALIZER]));
    expect((await read(name)).metadata.finalizers).toEqual([FINALIZER]);
    await write(sa, name, withFinalizers([]));
    expect((await read(name)).metadata.finalizers ?? []).toEqual([]);
  });

  it('may remove its finalizer next to someone else\'s, which stays', async () => {
    await admin.replace('Service', withFinalizers(['example.com/keep', FINALIZER])(await read('plain')));
    await write(sa, 'plain', withFinalizers(['example.com/keep']));
    expect((await read('plain')).metadata.finalizers).toEqual(['example.com/keep']);
    await expect(write(sa, 'plain', withFinalizers([]))).rejects.toThrow(DENIED_BY_POLICY);
    await admin.replace('Service', withFinalizers([])(await read('plain')));
  });
});

describe.each(STATUS_WRITERS)('%s on services/status', (sa) => {
  it('may publish and clear the ingress and its condition on a Service of its class', async () => {
    await write(sa, 'ours', (s) => condition(SERVICE_CONDITION)(ingress('192.0.2.10')(s)), 'status');
    const written = await read('ours');
    expect(written.status?.loadBalancer?.ingress).toEqual([{ ip: '192.0.2.10', ipMode: 'VIP' }]);
    expect(written.status?.conditions?.map((c) => c.type)).toEqual([SERVICE_CONDITION]);
    await write(sa, 'ours', (s) => ({ ...s, status: { loadBalancer: {}, conditions: [] } }), 'status');
    expect((await read('ours')).status?.loadBalancer?.ingress ?? []).toEqual([]);
  });

  it.each(['theirs', 'classless'] as const)('is refused an ingress on %s (not its class)', async (name) => {
    await expect(write(sa, name, ingress('192.0.2.66'), 'status')).rejects.toThrow(/may write the status only of Services of MikroLB's load-balancer class/);
    expect((await read(name)).status?.loadBalancer?.ingress ?? []).toEqual([]);
  });

  it('may neither clear nor replace another class\'s ingress', async () => {
    await admin.replaceStatus('Service', ingress('198.51.100.5')(await read('theirs')));
    await expect(write(sa, 'theirs', (s) => ({ ...s, status: { ...s.status, loadBalancer: {} } }), 'status')).rejects.toThrow(DENIED_BY_POLICY);
    await expect(write(sa, 'theirs', ingress('192.0.2.66'), 'status')).rejects.toThrow(DENIED_BY_POLICY);
    expect((await read('theirs')).status?.loadBalancer?.ingress).toEqual([{ ip: '198.51.100.5', ipMode: 'VIP' }]);
    await admin.replaceStatus('Service', { ...(await read('theirs')), status: { loadBalancer: {} } });
  });

  it.each(['theirs', 'plain'] as const)('may set and take off only its own condition on %s', async (name) => {
    await write(sa, name, condition(SERVICE_CONDITION), 'status');
    expect((await read(name)).status?.conditions?.map((c) => c.type)).toEqual([SERVICE_CONDITION]);
    await write(sa, name, (s) => ({ ...s, status: { ...s.status, conditions: [] } }), 'status');
    await expect(write(sa, name, condition('Ready'), 'status')).rejects.toThrow(DENIED_BY_POLICY);
    expect((await read(name)).status?.conditions ?? []).toEqual([]);
  });

  it('cannot reach the spec or labels through the status either', async () => {
    await expect(write(sa, 'ours', (s) => ({ ...s, metadata: { ...s.metadata, labels: { app: 'x' } } }), 'status')).rejects.toThrow(DENIED_BY_POLICY);
  });
});

describe('everyone else', () => {
  it('the admin changes any spec and any status as before', async () => {
    const theirs = await read('theirs');
    await admin.replace('Service', { ...theirs, spec: { ...theirs.spec, selector: { app: 'admin' } } });
    expect((await read('theirs')).spec).toMatchObject({ selector: { app: 'admin' } });
    await admin.replaceStatus('Service', ingress('198.51.100.9')(await read('classless')));
    expect((await read('classless')).status?.loadBalancer?.ingress).toEqual([{ ip: '198.51.100.9', ipMode: 'VIP' }]);
    await admin.replaceStatus('Service', { ...(await read('classless')), status: { loadBalancer: {} } });
  });

  it('a ServiceAccount of the same name in another namespace, bound to the same ClusterRole, is not narrowed', async () => {
    const out = await kubectl(['create', 'clusterrolebinding', `${ns}-lookalike`, '--clusterrole=mikrolb-controller', `--serviceaccount=${ns}:mikrolb-controller`]);
    expect(out.stderr).toBe('');
    const lookalike = apiServerPort(kubeTransport(actingAs(kc, 'mikrolb-controller', ns)));
    const attempt = async (): Promise<boolean> => {
      try {
        const plain = await read('plain');
        await lookalike.replace('Service', { ...plain, metadata: { ...plain.metadata, labels: { by: 'lookalike' } } });
        return true;
      } catch (e) {
        if (DENIED_BY_POLICY.test(String(e))) throw e;
        return false; // its binding is not in force yet
      }
    };
    await until('the lookalike\'s binding', 30_000, attempt);
    expect((await read('plain')).metadata.labels).toEqual({ by: 'lookalike' });
  });
});

describe('LOAD_BALANCER_DEFAULT in mikrolb-config: classless LoadBalancers become MikroLB\'s', () => {
  const setDefault = async (value: 'true' | 'false'): Promise<void> => {
    const out = await kubectl(['-n', NAMESPACE, 'patch', 'configmap', 'mikrolb-config', '--type=merge', '-p', JSON.stringify({ data: { LOAD_BALANCER_DEFAULT: value } })]);
    if (out.code !== 0) throw new Error(out.stderr);
  };
  /** A dry run of publishing an address the classless Service does not carry yet. */
  const classlessStatusRefused = async (): Promise<boolean> =>
    deniedByPolicy(dryRunPut(kubeTransport(actingAs(kc, 'mikrolb-program')), ingress('192.0.2.12')(await read('classless')), 'status'));

  it('lets program publish on a classless LoadBalancer only while the setting is "true"', async () => {
    expect(await classlessStatusRefused()).toBe(true);
    await setDefault('true');
    try {
      await until('the policy to read LOAD_BALANCER_DEFAULT=true', 30_000, async () => !(await classlessStatusRefused()));
      await write('mikrolb-program', 'classless', ingress('192.0.2.11'), 'status');
      expect((await read('classless')).status?.loadBalancer?.ingress).toEqual([{ ip: '192.0.2.11', ipMode: 'VIP' }]);
      await expect(write('mikrolb-program', 'theirs', ingress('192.0.2.66'), 'status')).rejects.toThrow(DENIED_BY_POLICY);
    } finally {
      await setDefault('false');
    }
    await until('the policy to read LOAD_BALANCER_DEFAULT=false', 30_000, classlessStatusRefused);
    await expect(write('mikrolb-program', 'classless', (s) => ({ ...s, status: { loadBalancer: {} } }), 'status')).rejects.toThrow(DENIED_BY_POLICY);
  });
});
