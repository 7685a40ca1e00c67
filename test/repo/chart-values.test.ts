/**
 * deploy/helm/mikrolb/values.schema.json refuses the configuration the components refuse: a value
 * `helm install` takes and the pods then refuse at start (CrashLoopBackOff, one line in a log)
 * fails here. The schema's patterns are read as helm reads them (JSON Schema, ECMA-262 syntax that
 * RE2 also reads); test/deploy/helm.test.ts runs helm itself on a few of these values.
 */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { classesFromEnv } from '../../lib/config.js';

const StringRule = z.object({ type: z.literal('string'), minLength: z.number().optional(), pattern: z.string().optional(), not: z.object({ const: z.string() }).optional() });
const ValuesSchema = z.object({
  properties: z.object({
    config: z.object({ properties: z.object({ loadBalancerClassName: StringRule, clusterName: StringRule }) }),
  }),
});

const schema = ValuesSchema.parse(JSON.parse(readFileSync(new URL('../../deploy/helm/mikrolb/values.schema.json', import.meta.url), 'utf8')));
const { loadBalancerClassName, clusterName } = schema.properties.config.properties;

/** Whether the schema takes `value` for a string property (the keywords it uses, no more). */
function schemaTakes(rule: z.infer<typeof StringRule>, value: string): boolean {
  if (rule.minLength !== undefined && value.length < rule.minLength) return false;
  if (rule.pattern !== undefined && !new RegExp(rule.pattern, 'u').test(value)) return false;
  return rule.not === undefined || value !== rule.not.const;
}

describe('config.loadBalancerClassName: what LOAD_BALANCER_CLASS_NAME takes', () => {
  it.each([
    'mikrolb.de/controller', 'example.com/lan-lb', 'lan-lb', 'LanLB', 'a', 'a.b-c.d/Name_with.dots-9', 'x/y',
    'not a class!', 'Example.com/lb', '-lb', 'lb-', 'a/b/c', 'example.com/', '/lb', 'example..com/lb', 'example.com/lb_', 'lb.', 'e_x.com/lb', 'ünïcode',
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
