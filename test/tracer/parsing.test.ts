import { describe, expect, it } from 'vitest';
import { formatAddress, normalizeAddress, parseSpan } from './addresses.js';
import { parseClassifier, parseNth, parsePortList, parseProtocol } from './values.js';

const span = (text: string) => {
  const parsed = parseSpan(text);
  return parsed && [parsed.family, formatAddress(parsed.family, parsed.lo), formatAddress(parsed.family, parsed.hi)];
};

describe('address forms RouterOS accepts', () => {
  it.each([
    ['10.0.0.5', ['IPv4', '10.0.0.5', '10.0.0.5']],
    ['10.0.0.0/24', ['IPv4', '10.0.0.0', '10.0.0.255']],
    ['10.0.0.77/24', ['IPv4', '10.0.0.0', '10.0.0.255']],
    ['0.0.0.0/0', ['IPv4', '0.0.0.0', '255.255.255.255']],
    ['10.0.0.5-10.0.0.9', ['IPv4', '10.0.0.5', '10.0.0.9']],
    ['fd00::5', ['IPv6', 'fd00::5', 'fd00::5']],
    ['fd00::5/128', ['IPv6', 'fd00::5', 'fd00::5']],
    ['2001:DB8::/126', ['IPv6', '2001:db8::', '2001:db8::3']],
    ['fd00::5-fd00::9', ['IPv6', 'fd00::5', 'fd00::9']],
    ['10.0.0.9-10.0.0.5', undefined],
    ['10.0.0.5-fd00::9', undefined],
    ['10.0.0.0/33', undefined],
    ['10.0.0', undefined],
    ['example.com', undefined],
  ])('%s', (text, expected) => {
    expect(span(text)).toEqual(expected);
  });

  it('prints IPv6 as RFC 5952', () => {
    expect(normalizeAddress('2001:0DB8:0:0:0:0:0:15')).toBe('2001:db8::15');
  });
});

describe('property values', () => {
  it.each([
    ['80', [{ lo: 80, hi: 80 }]],
    ['80,443', [{ lo: 80, hi: 80 }, { lo: 443, hi: 443 }]],
    ['8000-8080,53', [{ lo: 8000, hi: 8080 }, { lo: 53, hi: 53 }]],
    ['8080-8000', undefined],
    ['65536', undefined],
    ['http', undefined],
  ])('ports %s', (text, expected) => {
    const parsed = parsePortList(text);
    expect(parsed.ok ? parsed.value : undefined).toEqual(expected);
  });

  it.each([
    ['tcp', 6],
    ['udp', 17],
    ['icmp', 1],
    ['icmpv6', 58],
    ['47', 47],
    ['256', undefined],
  ])('protocol %s', (text, expected) => {
    const parsed = parseProtocol(text);
    expect(parsed.ok ? parsed.value : undefined).toBe(expected);
  });

  it.each([
    ['3,1', { every: 3, packet: 1 }],
    ['2,2', { every: 2, packet: 2 }],
    ['2,3', undefined],
    ['0,0', undefined],
    ['3', undefined],
  ])('nth %s', (text, expected) => {
    const parsed = parseNth(text);
    expect(parsed.ok ? parsed.value : undefined).toEqual(expected);
  });

  it.each([
    ['src-address-and-port:3/0', { fields: 'src-address-and-port', denominator: 3, remainder: 0 }],
    ['both-addresses:2/1', { fields: 'both-addresses', denominator: 2, remainder: 1 }],
    ['src-address:2/2', undefined],
    ['src-mac:2/1', undefined],
  ])('per-connection-classifier %s', (text, expected) => {
    const parsed = parseClassifier(text);
    expect(parsed.ok ? parsed.value : undefined).toEqual(expected);
  });
});
