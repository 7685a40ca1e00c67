import { describe, expect, it } from 'vitest';
import { createLogger, formatEntry, memoryLogger, type LoggerOptions, type LogLevel } from './logger.js';

const TIME = new Date('2025-03-04T05:06:07.000Z');

function capture(opts: LoggerOptions = {}) {
  const lines: string[] = [];
  const log = createLogger({ out: { write: (line) => lines.push(line) }, now: () => TIME, ...opts });
  return { log, lines, parsed: () => lines.map((line) => JSON.parse(line)) };
}

describe('the JSON logger', () => {
  it('writes one JSON line per entry, time, level and message first', () => {
    const { log, lines } = capture();
    log.info('Allocated address', { address: '192.0.2.10', pool: 'lan' });
    expect(lines).toEqual([
      '{"time":"2025-03-04T05:06:07.000Z","level":"info","msg":"Allocated address","address":"192.0.2.10","pool":"lan"}\n',
    ]);
  });

  it.each<[LogLevel, number]>([
    ['debug', 0],
    ['info', 1],
    ['warn', 2],
    ['error', 3],
  ])('at level %s drops %i lower levels', (level, dropped) => {
    const { log, lines } = capture({ level });
    log.debug('d');
    log.info('i');
    log.warn('w');
    log.error('e');
    expect(lines).toHaveLength(4 - dropped);
  });

  it('capitalises messages and adds child fields to every entry', () => {
    const { log, parsed } = capture();
    log.child({ function: 'release' }).child({ eventId: 'e1' }).warn('router unreachable', { attempt: 2 });
    expect(parsed()).toEqual([
      { time: TIME.toISOString(), level: 'warn', msg: 'Router unreachable', function: 'release', eventId: 'e1', attempt: 2 },
    ]);
  });

  it('keeps its own keys when a field has the same name', () => {
    const { log, parsed } = capture();
    log.error('Failed', { msg: 'spoofed', level: 'info', time: 'then' });
    expect(parsed()[0]).toMatchObject({ msg: 'Failed', level: 'error', time: TIME.toISOString() });
  });

  it.each([
    ['an Error', { err: new TypeError('bad') }, { err: { name: 'TypeError', message: 'bad' } }],
    ['a bigint', { n: 10n }, { n: '10' }],
  ])('serialises %s', (_, fields, expected) => {
    expect(JSON.parse(formatEntry({ level: 'info', msg: 'X', fields }, TIME))).toMatchObject(expected);
  });

  it('survives a circular field', () => {
    const loop: Record<string, unknown> = {};
    loop['self'] = loop;
    expect(JSON.parse(formatEntry({ level: 'info', msg: 'X', fields: { loop } }, TIME))).toEqual({
      time: TIME.toISOString(),
      level: 'info',
      msg: 'X',
      fields: '[unserialisable]',
    });
  });

  it('writes nothing when silent', () => {
    const { log, lines } = capture({ silent: true });
    log.error('Nobody hears this');
    log.child({ a: 1 }).info('Nor this');
    expect(lines).toEqual([]);
  });

  it('keeps entries in memory for tests, children included', () => {
    const log = memoryLogger();
    log.info('started');
    log.child({ function: 'allocate' }).debug('Read pool', { pool: 'lan' });
    expect(log.entries).toEqual([
      { level: 'info', msg: 'Started', fields: {} },
      { level: 'debug', msg: 'Read pool', fields: { function: 'allocate', pool: 'lan' } },
    ]);
  });
});
