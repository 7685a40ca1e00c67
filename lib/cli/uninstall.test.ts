import { describe, expect, it } from 'vitest';
import { planUninstall } from './uninstall.js';

describe('what mikrolb uninstall removes (as its usage text and docs/installation.md say)', () => {
  it('exactly the entries tagged mikrolb:global:<role> or mikrolb:svc=<uid>:<key>, not dynamic ones, not other mikrolb: comments', () => {
    const { lines } = planUninstall({
      '/ip/firewall/nat': [
        { '.id': '*1', chain: 'dstnat', action: 'jump', 'jump-target': 'mikrolb-lb', comment: 'mikrolb:global:nat-dstnat-jump-lb' },
        { '.id': '*2', chain: 'dstnat', action: 'jump', 'jump-target': 'mikrolb-dnat', comment: 'mikrolb: LB connections' },
        { '.id': '*3', chain: 'mikrolb-lb', action: 'jump', 'jump-target': 'mikrolb-svc-0123456789ab', comment: 'mikrolb:svc=0123-uid:lb:192.0.2.9' },
        { '.id': '*4', chain: 'srcnat', action: 'masquerade', comment: 'mikrolb:svc=bad uid:x' },
      ],
      '/ip/address': [
        { '.id': '*A', address: '192.0.2.9/32', interface: 'ether1', comment: 'mikrolb: IP advertisement' },
        { '.id': '*B', address: '192.0.2.10/32', interface: 'ether1', comment: 'mikrolb:svc=0123-uid:addr:192.0.2.10' },
        { '.id': '*C', address: '192.0.2.11/32', interface: 'ether1', dynamic: 'true', comment: 'mikrolb:svc=0123-uid:addr:192.0.2.11' },
      ],
      '/ipv6/firewall/address-list': [{ '.id': '*9', list: 'mikrolb-lb', address: '2001:db8::9', comment: 'mikrolb:svc=0123-uid:list:2001:db8::9' }],
    });
    expect(lines.map((l) => l.split(' ').slice(0, 2).join(' ')).sort()).toEqual(['/ip/address *B', '/ip/firewall/nat *1', '/ip/firewall/nat *3', '/ipv6/firewall/address-list *9']);
  });
});
