import type { Condition } from '../k8s/schemas.js';

export interface ConditionInput {
  type: string;
  status: 'True' | 'False' | 'Unknown';
  reason: string;
  message: string;
}

/**
 * Conditions after setting `next` (Kubernetes conventions): lastTransitionTime changes only
 * when the status changes; observedGeneration is the generation the decision was made on.
 */
export function setConditions(existing: readonly Condition[] | undefined, next: readonly ConditionInput[], generation: number | undefined, now: Date): Condition[] {
  const out = [...(existing ?? [])];
  for (const c of next) {
    const i = out.findIndex((o) => o.type === c.type);
    const prev = i >= 0 ? out[i] : undefined;
    const lastTransitionTime = prev && prev.status === c.status ? prev.lastTransitionTime : now.toISOString().replace(/\.\d+Z$/, 'Z');
    const updated: Condition = { ...c, lastTransitionTime, ...(generation !== undefined ? { observedGeneration: generation } : {}) };
    if (i >= 0) out[i] = updated;
    else out.push(updated);
  }
  return out;
}

export function findCondition(conditions: readonly Condition[] | undefined, type: string): Condition | undefined {
  return conditions?.find((c) => c.type === type);
}

/**
 * Equal, lastTransitionTime included: setConditions keeps it while a condition's status stays,
 * so an unchanged decision compares equal and a flip is always written.
 */
export function sameConditions(a: readonly Condition[] | undefined, b: readonly Condition[] | undefined): boolean {
  const key = (cs: readonly Condition[] | undefined): string =>
    JSON.stringify([...(cs ?? [])].sort((x, y) => x.type.localeCompare(y.type)).map((c) => [c.type, c.status, c.reason, c.message, c.observedGeneration, c.lastTransitionTime]));
  return key(a) === key(b);
}
