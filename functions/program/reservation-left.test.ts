import { describe, expect, it } from 'vitest';
import { objectInvocation, resyncInvocation } from '../../lib/events/cloudevent.js';
import { IPAllocationSchema } from '../../lib/k8s/schemas.js';
import { silentLogger } from '../../lib/log/logger.js';
import { client as openClient, sim as startSim } from '../../lib/routeros/client/test-support.js';
import { createAllocate } from '../allocate/handler.js';
import { LAN_ROUTER, memoryPortAs } from '../test-support.js';
import { createProgram } from './handler.js';

/**
 * An operator reservation that gives its address back (its `spec.address` edited to one that
 * cannot be allocated: Failed, the address under `formerAddresses`, its claim freed) has its
 * advertisement taken off the router, as a Service's allocation has. Program ran only for
 * reservations that hold an address, so the advertisement stood for good (the resync skipped
 * it too), `Former Addresses` named it for ever, and a Service given the address next was
 * refused by the router (`failure: already have such address`: BackendError).
 */

const NOW = () => new Date('2026-01-01T00:00:00Z');
const CLASSES = { loadBalancerClass: 'mikrolb.de/controller', defaultClass: false };
const RETRY = { attempts: 5, pause: async () => undefined };
const POOL = {
  apiVersion: 'mikrolb.de/v1alpha1', kind: 'IPPool', metadata: { name: 'lan', finalizers: ['mikrolb.de/finalizer'] },
  spec: { ipFamily: 'IPv4', addresses: ['192.0.2.10-192.0.2.20'], autoAssign: false, avoidBuggyIPs: true, advertise: true, interfaceName: 'ether1' }, status: { claimsAdopted: true },
};
const RESERVATION = { apiVersion: 'mikrolb.de/v1alpha1', kind: 'IPAllocation', metadata: { name: 'reserved-vip' }, spec: { address: '192.0.2.12' } };

async function setup() {
  const sim = await startSim({ initialState: LAN_ROUTER });
  const router = openClient(sim, { timeoutMs: 5000 });
  const kube = memoryPortAs('program', { objects: [POOL, RESERVATION], now: NOW });
  const allocate = createAllocate({ kube: kube.as('allocate'), now: NOW, log: silentLogger(), retry: RETRY, classes: CLASSES });
  const program = createProgram({ kube: kube.port, router, classes: CLASSES, now: NOW, log: silentLogger(), retry: RETRY });
  const ref = { kind: 'IPAllocation' as const, name: 'reserved-vip' };
  const reservation = async () => IPAllocationSchema.parse(await kube.admin.get('IPAllocation', 'reserved-vip'));
  /** Our entries that name the address anywhere (comment or value). */
  const entriesOf = (address: string) => Object.values(sim.state().menus).flat()
    .filter((e) => e.comment?.startsWith('mikrolb:') && Object.values(e).some((v) => v === address || v.startsWith(`${address}/`) || v.endsWith(`:${address}`)));
  // reserved and advertised
  expect((await allocate(objectInvocation('add', ref))).kind).toBe('done');
  expect((await program(objectInvocation('update', ref))).kind).toBe('done');
  expect(await reservation()).toMatchObject({ status: { phase: 'Programmed', address: '192.0.2.12' } });
  expect(entriesOf('192.0.2.12')).not.toEqual([]);
  // the operator asks for an address that can never be allocated: allocate gives 192.0.2.12 back
  const before = await reservation();
  await kube.admin.replace('IPAllocation', { ...before, spec: { address: '224.0.0.5' } });
  expect((await allocate(objectInvocation('update', ref))).kind).toBe('done');
  expect(await reservation()).toMatchObject({ status: { phase: 'Failed', formerAddresses: ['192.0.2.12'] } });
  expect(await kube.admin.list('IPAddressClaim')).toEqual([]);
  return { program, ref, reservation, entriesOf };
}

describe('an operator reservation that gave its address back (Failed)', () => {
  it('has the address taken off the router by program, and no longer lists it as former', async () => {
    const c = await setup();
    expect((await c.program(objectInvocation('update', c.ref))).kind).toBe('done');
    expect(c.entriesOf('192.0.2.12')).toEqual([]);
    const after = await c.reservation();
    expect(after.status?.formerAddresses).toBeUndefined();
    expect(after.status).toMatchObject({ phase: 'Failed', conditions: expect.arrayContaining([expect.objectContaining({ type: 'Ready', status: 'False', reason: 'AddressInvalid' })]) });
  });

  it('has the address taken off by the resync (an event that was lost)', async () => {
    const c = await setup();
    expect((await c.program(resyncInvocation())).kind).toBe('done');
    expect(c.entriesOf('192.0.2.12')).toEqual([]);
    expect((await c.reservation()).status?.formerAddresses).toBeUndefined();
  });
});
