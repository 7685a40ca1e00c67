import { describe, expect, it } from 'vitest';
import { ServiceSchema } from '../k8s/core-objects.js';
import { matchAllocations, serviceIntent } from './service.js';

const classes = { loadBalancerClass: 'mikrolb.de/controller', defaultClass: false };
const svc = (annotations: Record<string, string>, ipFamilies = ['IPv4']) =>
  ServiceSchema.parse({ metadata: { name: 'web', namespace: 'shop', uid: 'u1', annotations }, spec: { type: 'LoadBalancer', loadBalancerClass: 'mikrolb.de/controller', ipFamilies } });
const alloc = (name: string, spec: Record<string, string>, deleting = false, status?: { phase: string; address: string }) =>
  ({ metadata: { name, ...(deleting ? { deletionTimestamp: '2026-01-01T00:00:00Z' } : {}) }, spec, ...(status ? { status } : {}) });

describe('pairing existing IPAllocations with what a Service asks for', () => {
  it('keeps an allocation made under another name (upstream MikroLB) when it asks for the same thing', () => {
    const intent = serviceIntent(svc({}), classes);
    const m = matchAllocations(intent, [alloc('upstream-name', { ipFamily: 'IPv4' })]);
    expect([...m.matched.keys()]).toEqual(['upstream-name']);
    expect(m.missing).toEqual([]);
    expect(m.stale).toEqual([]);
  });

  it('matches explicit addresses canonically, and replaces what is no longer asked for', () => {
    const intent = serviceIntent(svc({ 'mikrolb.de/load-balancer-ips': '2001:db8::1' }, ['IPv6']), classes);
    const m = matchAllocations(intent, [alloc('old-a', { address: '2001:DB8:0::1' }), alloc('old-b', { poolName: 'p' })]);
    expect([...m.matched.keys()]).toEqual(['old-a']);
    expect(m.stale.map((a) => a.metadata.name)).toEqual(['old-b']);
  });

  it('prefers the allocation of its own name, and ignores ones being deleted', () => {
    const intent = serviceIntent(svc({}), classes);
    const own = intent.allocations[0]?.name ?? '';
    const m = matchAllocations(intent, [alloc('other', { ipFamily: 'IPv4' }), alloc(own, { ipFamily: 'IPv4' }), alloc('gone', { ipFamily: 'IPv4' }, true)]);
    expect([...m.matched.keys()]).toEqual([own]);
    expect(m.stale.map((a) => a.metadata.name)).toEqual(['other']);
  });

  it('asks for the allocations that are missing', () => {
    const intent = serviceIntent(svc({}, ['IPv4', 'IPv6']), classes);
    const m = matchAllocations(intent, [alloc('v4', { ipFamily: 'IPv4' })]);
    expect(m.missing.map((w) => w.ipFamily)).toEqual(['IPv6']);
  });

  it('pairs an explicit address with the allocation that holds it (a Service pinning its address), which keeps its roles', () => {
    const intent = serviceIntent(svc({ 'mikrolb.de/load-balancer-ips': '192.0.2.16' }), classes);
    const m = matchAllocations(intent, [alloc('ip-auto', { ipFamily: 'IPv4' }, false, { phase: 'Programmed', address: '192.0.2.16' })]);
    expect([...m.matched].map(([name, want]) => [name, want.address, want.roles])).toEqual([['ip-auto', '192.0.2.16', { lb: true, snat: false }]]);
    expect([m.missing, m.stale]).toEqual([[], []]);
  });

  it('pairs by the held address only after names and requests, and never an allocation of another want\'s name or without an address', () => {
    // the family allocation holds the address the Service now asks for as SNAT: it stays the family's
    const intent = serviceIntent(svc({ 'mikrolb.de/snat-ips': '192.0.2.16' }), classes);
    const family = intent.allocations.find((w) => w.ipFamily !== undefined)?.name ?? '';
    const m = matchAllocations(intent, [alloc(family, { ipFamily: 'IPv4' }, false, { phase: 'Allocated', address: '192.0.2.16' })]);
    expect([...m.matched].map(([name, want]) => [name, want.ipFamily])).toEqual([[family, 'IPv4']]);
    expect(m.missing.map((w) => w.address)).toEqual(['192.0.2.16']);
    // an allocation asking for the same address wins over one that merely holds it; a failed one holds nothing
    const pinned = serviceIntent(svc({ 'mikrolb.de/load-balancer-ips': '192.0.2.16' }), classes);
    const both = matchAllocations(pinned, [alloc('holder', { ipFamily: 'IPv4' }, false, { phase: 'Allocated', address: '192.0.2.16' }), alloc('upstream', { address: '192.0.2.16' })]);
    expect([...both.matched.keys()]).toEqual(['upstream']);
    expect(both.stale.map((a) => a.metadata.name)).toEqual(['holder']);
    const failed = matchAllocations(pinned, [alloc('holder', { ipFamily: 'IPv4' }, false, { phase: 'Failed', address: '192.0.2.16' })]);
    expect([failed.matched.size, failed.missing.length, failed.stale.length]).toEqual([0, 1, 1]);
  });
});
