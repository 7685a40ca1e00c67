import { describe, expect, it } from 'vitest';
import { unexpectedFaults } from './faults.js';

/** Lines as `mikrolb serve` writes them (lib/events/invocation-log.ts), one JSON object each. */
const line = (fields: Record<string, unknown>): string => JSON.stringify({ time: '2026-12-06T03:57:50.094Z', function: 'allocate', eventId: 'e1', source: 'mikrolb.de/bridge', ...fields });

describe('unexpected faults in a function\'s log', () => {
  it('finds the invocations that failed (500), not those that will be retried, were done or were rejected', () => {
    const log = [
      line({ level: 'info', msg: 'Invocation done', type: 'update', object: 'IPPool/lan', status: 200 }),
      line({ level: 'warn', msg: 'Invocation will be retried', type: 'update', object: 'IPPool/lan', status: 503, reason: 'Unavailable', error: 'the API server is unavailable' }),
      line({ level: 'warn', msg: 'Rejected event', status: 400, reason: 'BadEvent', error: 'malformed' }),
      line({ level: 'error', msg: 'Invocation failed', type: 'update', object: 'IPPool/lan', status: 500, error: 'ipallocations.mikrolb.de "ip-1" not found' }),
      '{"level":"error","msg":"Invocation failed","function":"allo', // cut short by a kill
      'not JSON at all: "Invocation failed"',
      '',
    ].join('\n');
    expect(unexpectedFaults(log)).toEqual(['allocate update IPPool/lan: ipallocations.mikrolb.de "ip-1" not found']);
  });

  it('finds nothing in a quiet log', () => {
    expect(unexpectedFaults(line({ level: 'info', msg: 'Serving', port: 8080 }))).toEqual([]);
  });
});
