import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as z from 'zod';
import { apiServerEvents, apiServerPort } from '../../lib/k8s/client.js';
import { EVENT_HEARTBEAT_MS, eventName, recordEventIn, type EventStore } from '../../lib/k8s/events.js';
import type { EventRecord } from '../../lib/k8s/port.js';
import { resourcePath, RESOURCES } from '../../lib/k8s/resources.js';
import { testCluster, uniq } from '../helpers/cluster.js';
import { objects } from '../helpers/objects.js';

/**
 * Events on the real API server: a repeat of an event (same subject, type, reason and note, so
 * the same name) is counted on it as an EventSeries, written with the resourceVersion read,
 * so `kubectl describe` shows it happened again, and when.
 */
const { transport, kubectl } = testCluster();
const kube = apiServerPort(transport);
const make = objects(kube);
const ns = uniq('events');
const MINUTE = 60_000;

const Stored = z.object({
  metadata: z.object({ name: z.string(), namespace: z.string(), resourceVersion: z.string() }).loose(),
  eventTime: z.string(),
  reportingInstance: z.string(),
  series: z.object({ count: z.number(), lastObservedTime: z.string() }).optional(),
}).loose();

/** A clock the test sets; the API server takes whatever eventTime and lastObservedTime we give. */
function clock(start: number) {
  let t = start;
  return { now: () => new Date(t), set: (ms: number) => void (t = ms) };
}

async function stored(e: EventRecord) {
  return Stored.parse(await transport({ method: 'GET', path: resourcePath(RESOURCES.Event, e.regarding.namespace ?? 'default', eventName(e)) }));
}

let subject: EventRecord['regarding'];
const event = (reason: string, type: EventRecord['type'], note: string, occurs?: EventRecord['occurs']): EventRecord =>
  ({ regarding: subject, type, reason, note, action: 'Program', ...(occurs ? { occurs } : {}) });

beforeAll(async () => {
  await make.namespace(ns);
  const svc = await make.service(ns, 'web', { type: 'LoadBalancer', loadBalancerClass: 'mikrolb.de/controller', ports: [{ port: 80 }] });
  subject = { kind: 'Service', name: 'web', namespace: ns, uid: svc?.metadata.uid ?? '' };
});

afterAll(async () => {
  await make.cleanup();
});

describe('a repeated event on the API server', () => {
  it('Programmed, ProgrammingFailed, Programmed again: kubectl describe shows the last Programmed as the latest', async () => {
    const base = Date.now();
    const c = clock(base - 40 * MINUTE);
    const port = apiServerPort(transport, { now: c.now, instance: 'mikrolb-a' });
    const programmed = event('Programmed', 'Normal', 'Address 198.18.70.1 is advertised on interface ether1.', 'onChange');
    await port.recordEvent(programmed);
    c.set(base - 5 * MINUTE);
    await port.recordEvent(event('ProgrammingFailed', 'Warning', 'The router refused or did not answer: connection refused', 'onChange'));
    c.set(base - MINUTE);
    // another instance records the repeat: the event keeps the first reporter (the field is immutable)
    await apiServerPort(transport, { now: c.now, instance: 'mikrolb-b' }).recordEvent(programmed);

    const p = await stored(programmed);
    expect(p.series).toEqual({ count: 2, lastObservedTime: new Date(base - MINUTE).toISOString().replace('Z', '000Z') });
    expect(p.reportingInstance).toBe('mikrolb-a');
    const d = await kubectl(['-n', ns, 'describe', 'service', 'web']);
    expect(d.code, d.stderr).toBe(0);
    const rows = d.stdout.slice(d.stdout.indexOf('Events:')).split('\n');
    expect(rows.find((r) => r.includes('Programmed') && !r.includes('Failed'))).toMatch(/Normal\s+Programmed\s+6\ds \(x2 over 40m\)\s+mikrolb\.de\/controller/);
    expect(rows.find((r) => r.includes('ProgrammingFailed'))).toMatch(/Warning\s+ProgrammingFailed\s+5m(\ds)?\s/);
  });

  it('an everyRun event: a repeat within the heartbeat writes nothing, one after it counts', async () => {
    const base = Date.now() - 20 * MINUTE;
    const c = clock(base);
    const port = apiServerPort(transport, { now: c.now });
    const warning = event('AnnotationInvalid', 'Warning', 'mikrolb.de/snat-ips: "x" is not a valid IP address; ignoring it');
    await port.recordEvent(warning);
    const first = await stored(warning);
    c.set(base + EVENT_HEARTBEAT_MS - 1000);
    await port.recordEvent(warning);
    expect(await stored(warning)).toEqual(first); // not even its resourceVersion moved
    c.set(base + EVENT_HEARTBEAT_MS);
    await port.recordEvent(warning);
    const second = await stored(warning);
    expect(second.series?.count).toBe(2);
    expect(second.metadata.resourceVersion).not.toBe(first.metadata.resourceVersion);
  });

  it('a writer that read before another moved the event gets a conflict, re-reads and counts on top', async () => {
    const c = clock(Date.now());
    const changed = event('IPAllocated', 'Normal', 'Allocated address 198.18.70.2 from pool lan.', 'onChange');
    await kube.recordEvent(changed);
    const real = apiServerEvents(transport);
    let raced = false;
    const puts: number[] = [];
    const racing: EventStore = {
      ...real,
      async replace(ev) {
        if (!raced) {
          raced = true;
          await recordEventIn(real, changed, { now: c.now, instance: 'other' });
        }
        try {
          return await real.replace(ev);
        } catch (e) {
          puts.push(z.object({ status: z.number() }).parse(e).status);
          throw e;
        }
      },
    };
    await recordEventIn(racing, changed, { now: c.now, instance: 'mikrolb' });
    expect(puts).toEqual([409]);
    expect((await stored(changed)).series?.count).toBe(3);
  });

  it('an event deleted (expired) since it was first recorded is recorded anew', async () => {
    const gone = event('Programmed', 'Normal', 'Address 198.18.70.3 is advertised on interface ether1.', 'onChange');
    await kube.recordEvent(gone);
    const real = apiServerEvents(transport);
    const expiring: EventStore = {
      ...real,
      async replace(ev) {
        await kube.remove('Event', ev.metadata.name, ev.metadata.namespace);
        return real.replace(ev);
      },
    };
    await recordEventIn(expiring, gone, { now: () => new Date(), instance: 'mikrolb' });
    expect((await stored(gone)).series).toBeUndefined();
  });
});
