import type { Logger, LogLevel } from '../log/logger.js';
import { objectKey } from './identity.js';
import type { Invocation } from './invocation.js';
import type { Outcome } from './outcome.js';

/**
 * The one line a function logs per invocation, whether it came over HTTP (the function app) or
 * in process (the all-in-one controller's dispatch): what it was about, the answer's status,
 * how long it took, and why it did not succeed.
 */
export function logInvocation(log: Logger, invocation: Invocation | undefined, outcome: Outcome | undefined, status: number, durationMs: number): void {
  const fields = {
    ...describeInvocation(invocation),
    status,
    durationMs: Math.round(durationMs * 10) / 10,
    ...(outcome ? problemOf(outcome) : {}),
  };
  const [level, msg] = outcome ? LOG_LINE[outcome.kind] : (['error', 'Invocation failed'] as const);
  log[level](msg, fields);
}

const LOG_LINE: Record<Outcome['kind'], readonly [LogLevel, string]> = {
  done: ['info', 'Invocation done'],
  blocked: ['info', 'Invocation blocked'],
  retry: ['warn', 'Invocation will be retried'],
  'bad-event': ['warn', 'Rejected event'],
  failed: ['error', 'Invocation failed'],
};

function problemOf(outcome: Outcome): Record<string, string> {
  switch (outcome.kind) {
    case 'done':
      return {};
    case 'failed':
      return { error: outcome.message };
    default:
      return { reason: outcome.reason, error: outcome.message };
  }
}

function describeInvocation(invocation: Invocation | undefined): Record<string, string> {
  if (!invocation) return {};
  const base = { eventId: invocation.id, source: invocation.source };
  if (invocation.type === 'resync') return { ...base, type: 'resync' };
  return { ...base, type: invocation.change, object: objectKey(invocation.ref) };
}
