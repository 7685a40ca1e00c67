import { existsSync, readFileSync } from 'node:fs';
import { z } from 'zod';

const FailedLine = z.looseObject({ msg: z.literal('Invocation failed'), function: z.string().optional(), object: z.string().optional(), type: z.string().optional(), error: z.string().optional() });

/**
 * The invocations a function's log says failed unexpectedly (`Invocation failed`: answered 500,
 * an error nothing classified). Under any storm a function either does its work or says why it
 * must wait (409, 429, 503); a 500 is a fault in the product, even when a retry later succeeds.
 */
export function unexpectedFaults(logText: string): string[] {
  const out: string[] = [];
  for (const line of logText.split('\n')) {
    if (!line.includes('"Invocation failed"')) continue;
    let json: unknown;
    try {
      json = JSON.parse(line);
    } catch {
      continue; // a line cut short by a kill
    }
    const failed = FailedLine.safeParse(json);
    if (failed.success) out.push(`${failed.data.function ?? '?'} ${failed.data.type ?? ''} ${failed.data.object ?? ''}: ${failed.data.error ?? ''}`.replace(/\s+/g, ' '));
  }
  return out;
}

/** unexpectedFaults of a log file (none when the process never wrote one). */
export function unexpectedFaultsIn(file: string): string[] {
  return existsSync(file) ? unexpectedFaults(readFileSync(file, 'utf8')) : [];
}
