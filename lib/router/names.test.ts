import { describe, expect, it } from 'vitest';
import {
  GLOBAL_ROLES, clusterNameProblem, currentComment, globalComment, legacyComment, ownerOf, portChain, serviceChain, serviceComment, snatList,
} from './names.js';

describe('ownerOf', () => {
  it.each([
    { comment: 'mikrolb:default:global:nat-dstnat-jump-lb', owner: { kind: 'global', cluster: 'default' } },
    { comment: 'mikrolb:edge-2:global:filter-input-reject-tcp', owner: { kind: 'global', cluster: 'edge-2' } },
    { comment: 'mikrolb:lab:svc=6f1c2a9e-4b7d-4c1e-9a3f-2d5e8b7c6a10:dnat:tcp/80:2', owner: { kind: 'service', cluster: 'lab', uid: '6f1c2a9e-4b7d-4c1e-9a3f-2d5e8b7c6a10' } },
    // written before cluster names: the default cluster's
    { comment: 'mikrolb:global:nat-dstnat-jump-lb', owner: { kind: 'global', cluster: 'default' } },
    { comment: 'mikrolb:svc=6f1c2a9e-4b7d-4c1e-9a3f-2d5e8b7c6a10:dnat:tcp/80:2', owner: { kind: 'service', cluster: 'default', uid: '6f1c2a9e-4b7d-4c1e-9a3f-2d5e8b7c6a10' } },
    { comment: 'mikrolb:svc=u1:lb-jump:2001:db8::15', owner: { kind: 'service', cluster: 'default', uid: 'u1' } },
    // global roles are exact: an operator's rule tagged like ours is foreign
    { comment: 'mikrolb:global:admin-wan-drop', owner: undefined },
    { comment: 'mikrolb:default:global:admin-wan-drop', owner: undefined },
    { comment: 'mikrolb:global:nat-dstnat-jump-lb2', owner: undefined },
    // a cluster name that is not one
    { comment: 'mikrolb:Lab:svc=u1:snat', owner: undefined },
    { comment: 'mikrolb:-lab:svc=u1:snat', owner: undefined },
    { comment: 'mikrolb:global:svc=u1:snat', owner: undefined },
    { comment: `mikrolb:${'a'.repeat(33)}:svc=u1:snat`, owner: undefined },
    { comment: 'mikrolb:lab:svc=u1', owner: undefined },
    { comment: 'mikrolb:lab:', owner: undefined },
    { comment: 'mikrolb:lab:global:', owner: undefined },
    { comment: undefined, owner: undefined },
    { comment: '', owner: undefined },
    { comment: 'my mikrolb notes', owner: undefined },
    { comment: 'mikrolb-old', owner: undefined },
    { comment: 'mikrolb', owner: undefined },
    { comment: 'mikrolb:', owner: undefined },
    { comment: 'mikrolb:global', owner: undefined },
    { comment: 'mikrolb:global:', owner: undefined },
    { comment: 'mikrolb:svc=u1', owner: undefined },
    { comment: 'mikrolb:svc=:dnat', owner: undefined },
    { comment: 'mikrolb:svc=u1:two words', owner: undefined },
    { comment: 'MIKROLB:global:x', owner: undefined },
    { comment: ' mikrolb:global:x', owner: undefined },
    { comment: 'mikrolb:something-else:x', owner: undefined },
  ])('$comment → $owner', ({ comment, owner }) => {
    expect(ownerOf(comment)).toEqual(owner);
  });

  it('writes the cluster into every tag and reads it back', () => {
    expect(serviceComment('u1', 'snat', 'lab')).toBe('mikrolb:lab:svc=u1:snat');
    expect(globalComment('nat-srcnat-jump-snat', 'lab')).toBe('mikrolb:lab:global:nat-srcnat-jump-snat');
    expect(serviceComment('u1', 'snat')).toBe('mikrolb:default:svc=u1:snat');
    for (const role of GLOBAL_ROLES) expect(ownerOf(globalComment(role, 'lab'))).toEqual({ kind: 'global', cluster: 'lab' });
  });

  it('knows the hairpin rules (one global role per connected network), and nothing else after their prefix', () => {
    expect(globalComment('nat-srcnat-hairpin:10.0.0.0/24', 'lab')).toBe('mikrolb:lab:global:nat-srcnat-hairpin:10.0.0.0/24');
    expect(ownerOf('mikrolb:lab:global:nat-srcnat-hairpin:fd00::/64')).toEqual({ kind: 'global', cluster: 'lab' });
    expect(ownerOf('mikrolb:global:nat-srcnat-hairpin:192.168.88.0/24')).toEqual({ kind: 'global', cluster: 'default' });
    expect(ownerOf('mikrolb:lab:global:nat-srcnat-hairpin:wan')).toBeUndefined();
    expect(() => globalComment('nat-srcnat-hairpin:')).toThrow(RangeError);
  });

  it('refuses to write a global role it does not know, or a bad cluster name', () => {
    expect(() => globalComment('admin-wan-drop')).toThrow(RangeError);
    expect(() => serviceComment('u1', 'snat', 'global')).toThrow(RangeError);
    expect(() => serviceComment('u1', 'snat', 'Lab')).toThrow(RangeError);
  });

  it.each([
    { name: 'default', problem: false }, { name: 'edge-2', problem: false }, { name: 'a', problem: false }, { name: 'a'.repeat(32), problem: false },
    { name: '', problem: true }, { name: 'global', problem: true }, { name: 'Lab', problem: true }, { name: 'lab-', problem: true },
    { name: 'a'.repeat(33), problem: true }, { name: 'a:b', problem: true }, { name: 'a=b', problem: true },
  ])('cluster name $name: problem $problem', ({ name, problem }) => {
    expect(clusterNameProblem(name) !== undefined).toBe(problem);
  });

  it('matches a tag of before cluster names to its current form (adoption), and back', () => {
    expect(currentComment('mikrolb:svc=u1:lb-list:192.0.2.15')).toBe('mikrolb:default:svc=u1:lb-list:192.0.2.15');
    expect(currentComment('mikrolb:global:nat-srcnat-jump-snat')).toBe('mikrolb:default:global:nat-srcnat-jump-snat');
    expect(legacyComment('mikrolb:default:svc=u1:snat')).toBe('mikrolb:svc=u1:snat');
    expect(legacyComment('mikrolb:lab:svc=u1:snat')).toBeUndefined();
  });
});

describe('names on the router', () => {
  it('names a UUID Service by its own leading hex digits, so an operator can find it', () => {
    const uid = '6f1c2a9e-4b7d-4c1e-9a3f-2d5e8b7c6a10';
    expect([serviceChain(uid), portChain(uid, 'udp', 53), snatList(uid)]).toEqual([
      'mikrolb-svc-6f1c2a9e4b7d', 'mikrolb-svc-6f1c2a9e4b7d-udp-53', 'mikrolb-snat-6f1c2a9e4b7d',
    ]);
  });

  it('names any other uid by a stable hash', () => {
    expect(serviceChain('uid-web')).toMatch(/^mikrolb-svc-[0-9a-f]{12}$/);
    expect(serviceChain('uid-web')).toBe(serviceChain('uid-web'));
    expect(serviceChain('uid-web')).not.toBe(serviceChain('uid-api'));
  });

  it.each([
    { story: 'a uid with a colon', uid: 'a:b', key: 'x' },
    { story: 'a key with a space', uid: 'u1', key: 'x y' },
    { story: 'a non-ASCII key', uid: 'u1', key: 'caf\u00e9' },
    { story: 'a comment of 200 characters', uid: 'u1', key: 'k'.repeat(190) },
  ])('refuses $story', ({ uid, key }) => {
    expect(() => serviceComment(uid, key)).toThrow(RangeError);
  });
});
