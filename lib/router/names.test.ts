import { describe, expect, it } from 'vitest';
import { ownerOf, portChain, serviceChain, serviceComment, snatList } from './names.js';

describe('ownerOf', () => {
  it.each([
    { comment: 'mikrolb:global:nat-dstnat-jump-lb', owner: { kind: 'global' } },
    { comment: 'mikrolb:svc=6f1c2a9e-4b7d-4c1e-9a3f-2d5e8b7c6a10:dnat:tcp/80:2', owner: { kind: 'service', uid: '6f1c2a9e-4b7d-4c1e-9a3f-2d5e8b7c6a10' } },
    { comment: 'mikrolb:svc=u1:lb-jump:2001:db8::15', owner: { kind: 'service', uid: 'u1' } },
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
