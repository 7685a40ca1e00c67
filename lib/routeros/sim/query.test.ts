import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { matchesQuery, parseQuery, queryMatcher } from './query.js';

const ether1 = new Map([['.id', '*1'], ['name', 'ether1'], ['type', 'ether'], ['mtu', '1500'], ['disabled', 'false'], ['comment', 'uplink']]);
const vlan10 = new Map([['.id', '*A'], ['name', 'vlan10'], ['type', 'vlan'], ['mtu', '9000'], ['disabled', 'true']]);
const bridge = new Map([['.id', '*1B'], ['name', 'bridge'], ['type', 'bridge'], ['mtu', '1500'], ['disabled', 'false']]);
const items = [ether1, vlan10, bridge];

function names(...words: string[]): string[] {
  const query = parseQuery(words);
  if (!query.ok) throw new Error(query.trap.message);
  return items.filter((item) => matchesQuery(query.words, item)).map((item) => item.get('name') ?? '');
}

describe('print queries', () => {
  it.each([
    ['no query matches everything', [], ['ether1', 'vlan10', 'bridge']],
    ['?name tests presence', ['?comment'], ['ether1']],
    ['?-name tests absence', ['?-comment'], ['vlan10', 'bridge']],
    ['?name=x tests equality', ['?type=vlan'], ['vlan10']],
    ['?=name=x is the same test', ['?=type=vlan'], ['vlan10']],
    ['a value may contain =', ['?=comment=a=b'], []],
    ['booleans match yes/no as well as true/false', ['?disabled=yes'], ['vlan10']],
    ['.id compares as an id, whatever the hex case', ['?.id=*1b'], ['bridge']],
    ['?<name=x compares numbers as numbers', ['?<mtu=2000'], ['ether1', 'bridge']],
    ['?>name=x compares numbers as numbers', ['?>mtu=1500'], ['vlan10']],
    ['?< on text compares as text', ['?<name=c'], ['bridge']],
    ['?< is false where the property is missing', ['?<comment=z'], ['ether1']],
    ['several tests are and-ed', ['?type=ether', '?mtu=1500'], ['ether1']],
    ['?#| ors the top two', ['?type=ether', '?type=vlan', '?#|'], ['ether1', 'vlan10']],
    ['?#|! is "neither"', ['?type=ether', '?type=vlan', '?#|!'], ['bridge']],
    ['?#& ands the top two', ['?mtu=1500', '?disabled=false', '?#&'], ['ether1', 'bridge']],
    ['?#! negates the top', ['?type=ether', '?#!'], ['vlan10', 'bridge']],
    ['operations on an empty stack see endless true values', ['?#!'], []],
    ['| with one value ors it with true', ['?type=ether', '?#|'], ['ether1', 'vlan10', 'bridge']],
    ['. duplicates the top', ['?type=ether', '?#.|'], ['ether1']],
    ['an index followed by more operations pushes a copy', ['?type=vlan', '?type=ether', '?#1|'], ['vlan10']],
    ['. after an index does nothing', ['?type=vlan', '?type=ether', '?#1.|'], ['vlan10']],
    ['an index at the end replaces the stack with that value', ['?type=vlan', '?type=ether', '?#1'], ['vlan10']],
    ['index 0 at the end keeps just the top', ['?type=vlan', '?type=ether', '?#0'], ['ether1']],
    ['an index past the bottom is true', ['?type=vlan', '?#5'], ['ether1', 'vlan10', 'bridge']],
    ['a multi-digit index is one index (10: true below the bottom, negated)', ['?type=vlan', '?#10!'], []],
    ['values left below still count', ['?type=vlan', '?mtu=1500', '?#1!&'], []],
    ['index 1 copies the value below the top; 0 at the end keeps only the top', ['?type=vlan', '?mtu=1500', '?#1!&0'], ['ether1', 'bridge']],
    ['(a or b) and not c', ['?type=ether', '?type=bridge', '?#|', '?mtu=1500', '?#&', '?name=bridge', '?#!&'], ['ether1']],
  ])('%s', (_story, words, expected) => {
    expect(names(...words)).toEqual(expected);
  });

  it.each([['?'], ['?#x'], ['?<mtu'], ['?=name'], ['?-']])('refuses the malformed word %s', (word) => {
    const parsed = parseQuery([word]);
    expect(parsed.ok).toBe(false);
  });
});

describe('the matcher for any of several exact values', () => {
  // what a narrowed read sends; its set lookups must agree with the stack on every item
  const value = fc.constantFrom('', 'a', 'b', 'true', 'false', 'yes', 'no', '*1', '*01', '*a', 'x=y');
  const name = fc.constantFrom('chain', 'comment', 'list', '.id', 'disabled');
  const item = fc.dictionary(name, value).map((props) => new Map(Object.entries(props)));
  const query = fc.array(fc.tuple(name, value), { minLength: 1, maxLength: 6 }).chain((tests) =>
    fc.constantFrom('|', '&', '||').map((op) => [...tests.map(([n, v]) => `?${n}=${v}`), ...tests.slice(1).map(() => `?#${op}`)]));

  it('answers as the stack does, for any query and item', () => {
    fc.assert(fc.property(query, fc.array(item, { maxLength: 8 }), (words, its) => {
      const parsed = parseQuery(words);
      if (!parsed.ok) return;
      const matcher = queryMatcher(parsed.words);
      for (const it of its) expect(matcher(it)).toBe(matchesQuery(parsed.words, it));
    }), { numRuns: 2000 });
  });
});
