import { describe, expect, it } from 'vitest';
import { matchesFields, matchesSelector, parseFieldSelector, parseSelector } from './memory-selector.js';

const labels = { app: 'web', tier: 'front', 'mikrolb.de/service-name': 'shop' };

function matches(selector: string, on: Record<string, string>): boolean {
  const parsed = parseSelector(selector);
  if (!parsed.ok) throw new Error(parsed.message);
  return matchesSelector(parsed.requirements, on);
}

describe('label selectors', () => {
  it.each([
    ['', true],
    ['app=web', true],
    ['app==web', true],
    ['app=api', false],
    ['app!=api', true],
    ['app!=web', false],
    ['missing!=x', true],
    ['app', true],
    ['missing', false],
    ['!missing', true],
    ['!app', false],
    ['app=web,tier=front', true],
    ['app=web, tier=back', false],
    ['mikrolb.de/service-name=shop', true],
    ['app in (api, web)', true],
    ['app in (api)', false],
    ['app notin (api)', true],
    ['missing notin (api)', true],
    ['app in (api,web),tier=front', true],
  ])('%j on app=web,tier=front → %s', (selector, expected) => {
    expect(matches(selector, labels)).toBe(expected);
  });

  it('treats an object without labels as having none', () => {
    const parsed = parseSelector('!app');
    expect(parsed.ok && matchesSelector(parsed.requirements)).toBe(true);
  });

  it.each(['app=web,,tier=front', '=web', 'app=web=x', 'app in web', 'app in (a b)', '-app'])('rejects %j', (selector) => {
    const parsed = parseSelector(selector);
    expect(parsed.ok).toBe(false);
    if (!parsed.ok) expect(parsed.message).toContain('unable to parse');
  });
});

describe('field selectors', () => {
  const allocation = { metadata: { name: 'a' }, spec: { ipFamily: 'IPv4' }, status: { phase: 'Failed' } };
  const fresh = { metadata: { name: 'b' }, spec: { ipFamily: 'IPv4' } };

  it.each([
    ['', allocation, true],
    ['status.phase=Failed', allocation, true],
    ['status.phase==Failed', allocation, true],
    ['status.phase!=Failed', allocation, false],
    ['status.phase!=Allocated,status.phase!=Programmed', allocation, true],
    ['status.phase!=Allocated,status.phase!=Programmed', fresh, true],
    ['status.phase=', fresh, true],
    ['status.phase=Failed', fresh, false],
    ['metadata.name=a,status.phase=Failed', allocation, true],
    ['metadata.name=b', allocation, false],
  ])('%s on %j → %s', (selector, obj, expected) => {
    const parsed = parseFieldSelector(selector, ['status.phase']);
    if (!parsed.ok) throw new Error(parsed.message);
    expect(matchesFields(parsed.requirements, obj)).toBe(expected);
  });

  it('refuses a field the kind does not make selectable, and a term it cannot read, as the API server does', () => {
    expect(parseFieldSelector('spec.ipFamily=IPv4', ['status.phase'])).toEqual({ ok: false, message: 'field label not supported: spec.ipFamily' });
    expect(parseFieldSelector('status.phase=Failed', [])).toEqual({ ok: false, message: 'field label not supported: status.phase' });
    expect(parseFieldSelector('status.phase', ['status.phase']).ok).toBe(false);
  });
});
