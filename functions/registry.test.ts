import { describe, expect, it } from 'vitest';
import { FUNCTION_NAMES } from '../lib/events/invocation.js';
import { memoryPort } from '../lib/k8s/memory.js';
import { silentLogger } from '../lib/log/logger.js';
import { memoryRouter } from '../test/helpers/memory-router.js';
import { LAZY_FUNCTIONS, NEEDS_ROUTER } from './lazy-registry.js';
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

describe('the lazy registry (mikrolb serve)', () => {
  it('has the same functions, each known to need the router or not before it is loaded', () => {
    expect(Object.keys(LAZY_FUNCTIONS).sort()).toEqual(Object.keys(FUNCTIONS).sort());
    for (const name of FUNCTION_NAMES) expect(LAZY_FUNCTIONS[name].needsRouter, name).toBe(FUNCTIONS[name].needsRouter);
  });

  it.each(FUNCTION_NAMES)('loads %s as the registry builds it', async (name) => {
    expect(await LAZY_FUNCTIONS[name].load()).toBe(FUNCTIONS[name]);
  });

  it.each(FUNCTION_NAMES.filter((name) => NEEDS_ROUTER[name]))('%s, loaded alone, still says it needs a router', async (name) => {
    const entry = await LAZY_FUNCTIONS[name].load();
    expect(() => entry.app(ports())).toThrow(`${name} needs a router`);
  });
});
