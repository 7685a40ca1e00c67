import { describe, expect, it } from 'vitest';
import { IPAllocationSchema } from '../k8s/schemas.js';
import { serviceChain } from '../router/names.js';
import { baseRouter, webService } from '../router/test-support.js';
import type { RouterEntry } from '../router/state.js';
import type { AdvertisementWant } from './program-model.js';
import { partitionState, twinEntry, twinMessage, type OwnerProgram } from './router-program.js';

/**
 * Rules of this Service's uid tagged for another cluster (an installation renamed without
 * uninstalling, or a copy of the cluster on the same router) sit in the Service's own chains:
 * program finds them, on an event's narrowed read and in a resync's whole read alike.
 */

const UID = webService().uid;
const NAT = '/ip/firewall/nat';

const allocation = IPAllocationSchema.parse({ apiVersion: 'mikrolb.de/v1alpha1', kind: 'IPAllocation', metadata: { name: 'ip-0', uid: 'ip-0-uid' }, spec: { ipFamily: 'IPv4' }, status: { phase: 'Allocated', address: '192.0.2.15' } });
const advert: AdvertisementWant = { allocation, family: 'IPv4', address: '192.0.2.15', advertise: true, interfaceName: 'ether1', pool: 'lan' };
const service: OwnerProgram = { uid: UID, cluster: 'west', service: webService({ lbAddresses: [{ family: 'IPv4', address: '192.0.2.15' }] }), adverts: [advert] };

/** A port jump in the Service's chain, tagged for `cluster` and `uid`. */
const portJump = (cluster: string, uid: string, id: string): RouterEntry => ({
  '.id': id, chain: serviceChain(uid), action: 'jump', 'jump-target': `${serviceChain(uid)}-tcp-80`, protocol: 'tcp', 'dst-port': '80',
  comment: `mikrolb:${cluster}:svc=${uid}:port-jump:tcp/80`,
});

const state = (entries: RouterEntry[]): Record<string, RouterEntry[]> => ({ ...baseRouter().menus, [NAT]: entries });

describe('twinEntry', () => {
  it.each<{ story: string; owner: OwnerProgram; entries: RouterEntry[]; found: string | undefined }>([
    { story: 'a rule of the Service tagged for the old cluster name', owner: service, entries: [portJump('default', UID, '*A1')], found: '*A1' },
    { story: 'a rule tagged before cluster names (the cluster "default")', owner: service,
      entries: [{ ...portJump('default', UID, '*A2'), comment: `mikrolb:svc=${UID}:port-jump:tcp/80` }], found: '*A2' },
    { story: 'the Service\'s own rule', owner: service, entries: [portJump('west', UID, '*A3')], found: undefined },
    { story: 'another cluster\'s rule of another Service', owner: service, entries: [portJump('default', 'e0e00000-0000-4000-8000-000000000001', '*A4')], found: undefined },
    { story: 'an operator reservation (no Service, no chains)', owner: { ...service, service: undefined }, entries: [portJump('default', UID, '*A5')], found: undefined },
  ])('$story: $found', ({ owner, entries, found }) => {
    expect(twinEntry(owner, state(entries))?.entry['.id']).toBe(found);
  });

  it('is found in a resync\'s whole read too, split by owner', () => {
    const view = partitionState(state([portJump('default', UID, '*B1'), portJump('west', UID, '*B2')]), 'west')(UID);
    expect(view[NAT]?.map((e) => e['.id'])).toEqual(['*B1', '*B2']);
    expect(twinEntry(service, view)).toMatchObject({ menu: NAT, cluster: 'default', entry: { '.id': '*B1' } });
  });

  it('is named in the message, with what to run', () => {
    const twin = twinEntry(service, state([portJump('edge', UID, '*C1')]));
    if (twin === undefined) throw new Error('no twin');
    expect(twinMessage(twin)).toContain(`written by the MikroLB of cluster "edge" (${NAT} *C1 in chain ${serviceChain(UID)})`);
    expect(twinMessage(twin)).toContain('MIKROLB_CLUSTER_NAME=edge mikrolb uninstall --router');
  });
});
