import { describe, expect, it } from 'vitest';
import { matchesSelector, parseSelector } from './memory-selector.js';

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
