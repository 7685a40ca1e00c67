import { describe, expect, it } from 'vitest';
import { parseAddress } from './address.js';
import { unusableTarget } from './unicast.js';

const judge = (text: string) => {
  const p = parseAddress(text);
  if (!p.ok) throw new Error(p.message);
  return unusableTarget(p.family, p.value);
};

describe('unusableTarget: which endpoint addresses can never be dst-nat targets', () => {
  it.each([
    ['127.0.0.1', 'loopback'],
    ['127.255.255.254', 'loopback'],
    ['0.0.0.0', 'unspecified'],
    ['255.255.255.255', 'broadcast'],
    ['169.254.0.1', 'link-local'],
    ['169.254.255.255', 'link-local'],
    ['224.0.0.1', 'multicast'],
    ['239.255.255.250', 'multicast'],
    ['::', 'unspecified'],
    ['::1', 'loopback'],
    ['fe80::1', 'link-local'],
    ['febf:ffff::1', 'link-local'],
    ['ff02::1', 'multicast'],
    ['ff05::1:3', 'multicast'],
    ['::ffff:127.0.0.1', 'loopback'],
    ['::ffff:169.254.1.1', 'link-local'],
  ])('%s is %s', (address, kind) => {
    expect(judge(address)).toBe(kind);
  });

  it.each([
    '10.0.0.11', '192.168.88.10', '192.0.2.15', '1.1.1.1', '126.255.255.255', '128.0.0.1', '169.253.255.255', '169.255.0.1',
    '223.255.255.255', '240.0.0.1', '255.255.255.254',
    '2001:db8::1', 'fd00::5', 'fec0::1', '::2', 'fe7f:ffff::1', '::ffff:10.0.0.1',
  ])('%s is a usable target', (address) => {
    expect(judge(address)).toBeUndefined();
  });
});
