import { describe, expect, it } from 'vitest';
import { parseAddress } from './address.js';
import { addressName, parseAddressName } from './name.js';

const DNS_SUBDOMAIN = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;

function nameOf(text: string): string {
  const p = parseAddress(text);
  if (!p.ok) throw new Error(p.message);
  return addressName(p.family, p.value);
}

describe('addresses as object names', () => {
  it.each([
    ['192.0.2.10', '192.0.2.10'],
    ['0.0.0.0', '0.0.0.0'],
    ['2001:db8::1', '2001-db8-0-0-0-0-0-1'],
    ['::', '0-0-0-0-0-0-0-0'],
    ['ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff', 'ffff-ffff-ffff-ffff-ffff-ffff-ffff-ffff'],
    ['::ffff:192.0.2.1', '0-0-0-0-0-ffff-c000-201'],
    ['2001:DB8:0:0:0:0:0:00A', '2001-db8-0-0-0-0-0-a'],
  ])('%s is named %s, a valid object name that reads back as the same address', (text, name) => {
    expect(nameOf(text)).toBe(name);
    expect(name).toMatch(DNS_SUBDOMAIN);
    expect(name.length).toBeLessThanOrEqual(63);
    const back = parseAddressName(name);
    const p = parseAddress(text);
    expect(back).toEqual(p.ok ? { family: p.family, value: p.value } : undefined);
  });

  it('gives every address its own name (the same text twice only for the same address)', () => {
    const texts = ['10.0.0.1', '10.0.0.10', '::a', '::a:0', '0:a::', '::10.0.0.1', '::ffff:10.0.0.1'];
    const names = texts.map(nameOf);
    expect(new Set(names).size).toBe(texts.length);
  });

  it.each(['', 'pool-a', '2001-db8--1', '2001-0db8-0-0-0-0-0-1', '1-2-3-4-5-6-7', '1-2-3-4-5-6-7-8-9', '10.0.0.256', '10.0.0.01', 'G-0-0-0-0-0-0-0'])(
    'reads %j as no address', (name) => {
      expect(parseAddressName(name)).toBeUndefined();
    });
});
