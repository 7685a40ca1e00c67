/**
 * deploy/helm/mikrolb/values.schema.json refuses the configuration the components refuse: a value
 * `helm install` takes and the pods then refuse at start (CrashLoopBackOff, one line in a log)
 * fails here. The schema's patterns are read as helm reads them (JSON Schema, ECMA-262 syntax that
 * RE2 also reads); test/deploy/helm.test.ts runs helm itself on a few of these values.
 */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { classesFromEnv, routerFromEnv } from '../../lib/config.js';

const StringRule = z.object({
  type: z.literal('string'), minLength: z.number().optional(), pattern: z.string().optional(), not: z.object({ const: z.string() }).optional(),
  /** Text for people: no keyword of its own. */
  description: z.string().optional(),
  /** More patterns, each to be matched too (JSON Schema has one `pattern` per object; RE2 has no lookahead to join them). */
  allOf: z.array(z.object({ pattern: z.string() }).strict()).optional(),
}).strict();
const ValuesSchema = z.object({
  properties: z.object({
    config: z.object({ properties: z.object({ loadBalancerClassName: StringRule, clusterName: StringRule }) }),
    router: z.object({ properties: z.object({ url: StringRule, username: StringRule }) }),
  }),
});

const schema = ValuesSchema.parse(JSON.parse(readFileSync(new URL('../../deploy/helm/mikrolb/values.schema.json', import.meta.url), 'utf8')));
const { loadBalancerClassName, clusterName } = schema.properties.config.properties;
const router = schema.properties.router.properties;

/** Whether the schema takes `value` for a string property (the keywords it uses, no more). */
function schemaTakes(rule: z.infer<typeof StringRule>, value: string): boolean {
  if (rule.minLength !== undefined && value.length < rule.minLength) return false;
  if (rule.pattern !== undefined && !new RegExp(rule.pattern, 'u').test(value)) return false;
  if (rule.allOf?.some((r) => !new RegExp(r.pattern, 'u').test(value))) return false;
  return rule.not === undefined || value !== rule.not.const;
}

describe('config.loadBalancerClassName: what LOAD_BALANCER_CLASS_NAME takes', () => {
  it.each([
    'mikrolb.de/controller', 'example.com/lan-lb', 'lan-lb', 'LanLB', 'a', 'a.b-c.d/Name_with.dots-9', 'x/y',
    'not a class!', 'Example.com/lb', '-lb', 'lb-', 'a/b/c', 'example.com/', '/lb', 'example..com/lb', 'example.com/lb_', 'lb.', 'e_x.com/lb', 'ünïcode',
    // Kubernetes' lengths for spec.loadBalancerClass: a name of at most 63, a prefix of at most 253
    'x'.repeat(63), 'x'.repeat(64), `example.com/${'x'.repeat(63)}`, `example.com/${'x'.repeat(64)}`,
    `${'a'.repeat(249)}.com/lb`, `${'a'.repeat(250)}.com/lb`,
  ])('%j: the chart and the components agree', (name) => {
    const components = classesFromEnv({ LOAD_BALANCER_CLASS_NAME: name }).ok;
    expect(schemaTakes(loadBalancerClassName, name)).toBe(components);
  });
});

describe('config.clusterName: what MIKROLB_CLUSTER_NAME takes', () => {
  it.each(['default', 'west-2', 'a', 'x'.repeat(32), 'x'.repeat(33), 'global', 'West', '-a', 'a-', 'a.b', 'a_b'])('%j: the chart and the components agree', (name) => {
    const components = classesFromEnv({ MIKROLB_CLUSTER_NAME: name }).ok;
    expect(schemaTakes(clusterName, name)).toBe(components);
  });
});

/**
 * router.url and router.username go into the Secret the chart creates (router.createSecret=true);
 * empty, they are the defaults for a Secret made by hand (the template then asks for them).
 */
describe('router.url: what ROUTEROS_URL takes', () => {
  it.each([
    'api://192.0.2.1', 'api-ssl://192.0.2.1:8729', 'api-ssl://router.lan', 'api://router.lan:8728/', 'api-ssl://[2001:db8::1]:8729', 'api://[::ffff:192.0.2.1]',
    'api://h:0080', 'api://h:65535', 'api-ssl://ro_uter', ' api-ssl://router.lan ',
    'https://192.0.2.1', '192.0.2.1', 'router.lan:8729', 'API://router.lan', 'api://', 'api:///', 'api://:8728', 'api://h:0', 'api://h:65536', 'api://h:port',
    'api://admin:s3cret@192.0.2.1', 'api://admin@192.0.2.1', 'api-ssl://router.lan/rest', 'api://h?x', 'api://h#x', 'api://exa mple', 'api://[::1]x', ' ',
  ])('%j: the chart and the components agree', (url) => {
    const components = routerFromEnv({ ROUTEROS_URL: url, ROUTEROS_USERNAME: 'mikrolb' }).ok;
    expect(schemaTakes(router.url, url)).toBe(components);
  });

  it('takes the empty default', () => {
    expect(schemaTakes(router.url, '')).toBe(true);
  });

  it.each(['api://[1:::2]', 'api://[12345::]', 'api://[::1.2.3.256]'])('%j: a bracketed IPv6 address is checked for its characters only (the components refuse it at start)', (url) => {
    expect(routerFromEnv({ ROUTEROS_URL: url, ROUTEROS_USERNAME: 'mikrolb' }).ok).toBe(false);
    expect(schemaTakes(router.url, url)).toBe(true);
  });
});

describe('router.username: what ROUTEROS_USERNAME takes', () => {
  it.each(['mikrolb', ' admin ', ' ', '\t'])('%j: the chart and the components agree', (username) => {
    const components = routerFromEnv({ ROUTEROS_URL: 'api://192.0.2.1', ROUTEROS_USERNAME: username }).ok;
    expect(schemaTakes(router.username, username)).toBe(components);
  });

  it('takes the empty default', () => {
    expect(schemaTakes(router.username, '')).toBe(true);
  });
});
