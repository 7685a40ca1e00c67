import { describe, expect, it } from 'vitest';
import { ServiceSchema } from '../../lib/k8s/core-objects.js';
import { allocationsOf, allocationSummary, claims, fixture, parseOutput, run, scratch, type InvokeOutput } from './support.js';

/**
 * `mikrolb invoke` chained: each run starts from the previous run's output (`--state` and
 * `--router` take the printed document as it is), as docs/debugging.md shows.
 */

const ROUTER = fixture('program', 'web', 'router.json');

const API_SERVICE = `apiVersion: v1
kind: Service
metadata: {name: api, namespace: shop}
spec:
  type: LoadBalancer
  loadBalancerClass: mikrolb.de/controller
  ipFamilies: [IPv4]
  ports: [{name: http, port: 80, protocol: TCP, targetPort: 8080}]
`;

async function invoke(fn: string, ...args: string[]): Promise<{ stdout: string; out: InvokeOutput }> {
  const ran = await run(['invoke', fn, ...args, '--quiet']);
  expect(ran.stderr).toBe('');
  expect(ran.code).toBe(0);
  return { stdout: ran.stdout, out: parseOutput(ran) };
}

describe('mikrolb invoke, chained on the previous output', () => {
  it('allocates a second Service on the first run\'s output without handing it the first one\'s address', async () => {
    const dir = await scratch();
    try {
      const first = await invoke('allocate', '--state', fixture('allocate', 'ipv4-auto'), '--object', 'Service/shop/web');
      // the output as it is is a state: run again on it, nothing is left to do
      const second = await invoke('allocate', '--state', await dir.file('web.json', first.stdout), '--object', 'Service/shop/web');
      expect(second.out.writes).toEqual([]);
      // a new Service joins the state (a YAML stream may mix the JSON output and YAML documents)
      const combined = await dir.file('both.yaml', `${second.stdout}\n---\n${API_SERVICE}`);
      const third = await invoke('allocate', '--state', combined, '--object', 'Service/shop/api');
      const allocations = allocationsOf(third.out);
      expect(allocations).toHaveLength(2);
      const addresses = allocations.map((a) => a.status?.address);
      expect(Object.values(allocationSummary(third.out)).every((line) => line.startsWith('Allocated 192.0.2.'))).toBe(true);
      expect(new Set(addresses).size).toBe(2);
      expect(new Set(allocations.map((a) => a.metadata.uid)).size).toBe(2);
      expect(claims(third.out)['public-v4']).toHaveLength(2);
      expect(new Set(third.out.objects.map((o) => JSON.stringify((o.metadata as { uid?: unknown }).uid))).size).toBe(third.out.objects.length);
    } finally {
      await dir.remove();
    }
  });

  it('PreferDualStack without an IPv6 pool: program makes the Service ready on IPv4, its condition naming the missing IPv6 address', async () => {
    const dir = await scratch();
    try {
      const allocated = await invoke('allocate', '--state', fixture('allocate', 'prefer-dual-stack'), '--object', 'Service/shop/web');
      const programmed = await invoke('program', '--state', await dir.file('allocated.json', allocated.stdout), '--router', ROUTER, '--object', 'Service/shop/web');
      expect(allocationSummary(programmed.out)).toEqual({ 'ip-013a2986c760': 'Programmed 192.0.2.6 AllocatedAndProgrammed', 'ip-9e76baabd20f': 'Failed - PoolExhausted' });
      expect(programmed.out.objects.find((o) => o.kind === 'Service')).toMatchObject({
        status: {
          loadBalancer: { ingress: [{ ip: '192.0.2.6' }] },
          conditions: [{
            type: 'mikrolb.de/LoadBalancerReady', status: 'True', reason: 'SecondaryFamilyUnavailable',
            message: '1 of 2 IPAllocation(s) are ready; the Service has no IPv6 address, which ipFamilyPolicy PreferDualStack allows (IPAllocation ip-9e76baabd20f: No auto-assign IPv6 pool exists).',
          }],
        },
      });
    } finally {
      await dir.remove();
    }
  });

  it('program on a state saved from a live cluster, its Service already programmed, makes no write', async () => {
    // the API server gives a Service no metadata.generation, so the condition program wrote
    // there has no observedGeneration: the state as `kubectl get -o yaml` saves it (docs/debugging.md, section 5)
    const dir = await scratch();
    try {
      const allocated = await invoke('allocate', '--state', fixture('allocate', 'ipv4-auto'), '--object', 'Service/shop/web');
      const programmed = await invoke('program', '--state', await dir.file('allocated.json', allocated.stdout), '--router', ROUTER, '--object', 'Service/shop/web');
      const live = programmed.out.objects.map((o) => {
        const svc = ServiceSchema.safeParse(o);
        if (o.kind !== 'Service' || !svc.success) return o;
        const { generation: _generation, ...metadata } = svc.data.metadata;
        const conditions = (svc.data.status?.conditions ?? []).map(({ observedGeneration: _observed, ...c }) => c);
        return { ...svc.data, metadata, status: { ...svc.data.status, conditions } };
      });
      const saved = await dir.file('live.json', JSON.stringify({ ...programmed.out, objects: live }));
      const again = await invoke('program', '--state', saved, '--router', saved, '--object', 'Service/shop/web');
      expect(again.out.writes).toEqual([]);
      // the router is only read
      expect(again.out.router?.commands.map(([word]) => word).filter((w) => !w?.endsWith('/print'))).toEqual([]);
    } finally {
      await dir.remove();
    }
  });

  it('runs allocate → program → release, each on the previous output', async () => {
    const dir = await scratch();
    try {
      const allocated = await invoke('allocate', '--state', fixture('allocate', 'ipv4-auto'), '--object', 'Service/shop/web');
      const address = allocationsOf(allocated.out)[0]?.status?.address;
      expect(address).toMatch(/^192\.0\.2\./);
      const allocatedFile = await dir.file('allocated.json', allocated.stdout);
      const programmed = await invoke('program', '--state', allocatedFile, '--router', ROUTER, '--object', 'Service/shop/web');
      expect(programmed.out.objects.find((o) => o.kind === 'Service')).toMatchObject({ status: { loadBalancer: { ingress: [{ ip: address }] } } });
      expect(allocationSummary(programmed.out)).toEqual({ [allocationsOf(allocated.out)[0]?.metadata.name ?? '']: `Programmed ${address} AllocatedAndProgrammed` });
      // the Service is deleted: its finalizer holds it for release
      const deleting = {
        ...programmed.out,
        objects: programmed.out.objects.map((o) => (o.kind === 'Service' ? { ...o, metadata: { ...o.metadata, deletionTimestamp: '2026-01-01T02:00:00Z' } } : o)),
      };
      const programmedFile = await dir.file('programmed.json', JSON.stringify(deleting));
      const released = await invoke('release', '--state', programmedFile, '--router', programmedFile, '--object', 'Service/shop/web');
      expect(released.out.objects.filter((o) => o.kind !== 'IPPool')).toEqual([]);
      expect(claims(released.out)).toEqual({ 'public-v4': [] });
      const ours = Object.values(released.out.router?.state.menus ?? {}).flat().filter((e) => (e.comment ?? '').startsWith('mikrolb:svc='));
      expect(ours).toEqual([]);
      expect(released.out.router?.state.menus['/ip/address']?.some((e) => e.address === `${address}/32`)).toBe(false);
    } finally {
      await dir.remove();
    }
  });
});
