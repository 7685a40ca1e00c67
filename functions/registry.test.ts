import { describe, expect, it } from 'vitest';
import { FUNCTION_NAMES } from '../lib/events/invocation.js';
import { memoryPort } from '../lib/k8s/memory.js';
import { silentLogger } from '../lib/log/logger.js';
import { memoryRouter } from '../test/helpers/memory-router.js';
import { FUNCTIONS, type FunctionPorts } from './registry.js';

const ports = (): FunctionPorts => ({
  kube: memoryPort().port, classes: { loadBalancerClass: 'mikrolb.de/controller', defaultClass: false },
  now: () => new Date('2026-01-01T00:00:00Z'), log: silentLogger(),
});

describe('the function registry', () => {
  it('has every function the bridge routes to', () => {
    expect(Object.keys(FUNCTIONS).sort()).toEqual([...FUNCTION_NAMES].sort());
  });

  it.each(FUNCTION_NAMES.filter((name) => FUNCTIONS[name].needsRouter))('%s cannot be built without a router, and says so', (name) => {
    expect(() => FUNCTIONS[name].handler(ports())).toThrow(`${name} needs a router`);
    expect(() => FUNCTIONS[name].app(ports())).toThrow(`${name} needs a router`);
  });

  it.each(FUNCTION_NAMES)('%s answers a resync on an empty cluster, as a handler and as an HTTP app', async (name) => {
    const built = { ...ports(), router: memoryRouter({ version: '7.19.1', menus: {} }) };
    const done = await FUNCTIONS[name].handler(built)({ type: 'resync', id: 'r1', source: 'test' });
    expect(done.kind).toBe('done');
    const answered = await FUNCTIONS[name].app(built).fetch(new Request('http://fn/healthz'));
    expect(answered.status).toBe(200);
  });
});
