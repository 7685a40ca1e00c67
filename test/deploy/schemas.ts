/** The parts of the rendered objects the deploy tests look at (zod, so no casts). */
import { z } from 'zod';

const Labels = z.record(z.string(), z.string());
const Meta = z.object({ name: z.string(), namespace: z.string().optional(), labels: Labels.optional(), annotations: Labels.optional() });

const Probe = z.object({ httpGet: z.object({ path: z.string(), port: z.union([z.string(), z.number()]).optional(), scheme: z.string().optional() }) });
const Seccomp = z.object({ type: z.string() });

export const ContainerSchema = z.object({
  name: z.string(),
  image: z.string(),
  args: z.array(z.string()).default([]),
  env: z
    .array(z.object({ name: z.string(), value: z.string().optional(), valueFrom: z.object({ fieldRef: z.object({ fieldPath: z.string() }).optional() }).optional() }))
    .default([]),
  envFrom: z.array(z.object({ secretRef: z.object({ name: z.string() }).optional(), configMapRef: z.object({ name: z.string() }).optional() })).default([]),
  ports: z.array(z.object({ name: z.string().optional(), containerPort: z.number(), protocol: z.string().optional() })).default([]),
  livenessProbe: Probe.optional(),
  readinessProbe: Probe.optional(),
  resources: z.object({ requests: Labels.optional(), limits: Labels.optional() }).optional(),
  securityContext: z
    .object({
      allowPrivilegeEscalation: z.boolean().optional(),
      readOnlyRootFilesystem: z.boolean().optional(),
      runAsNonRoot: z.boolean().optional(),
      capabilities: z.object({ drop: z.array(z.string()).optional() }).optional(),
      seccompProfile: Seccomp.optional(),
    })
    .optional(),
  volumeMounts: z.array(z.object({ name: z.string(), mountPath: z.string(), readOnly: z.boolean().optional() })).default([]),
});
export type Container = z.infer<typeof ContainerSchema>;

export const PodSpecSchema = z.object({
  serviceAccountName: z.string().optional(),
  securityContext: z.object({ runAsNonRoot: z.boolean().optional(), seccompProfile: Seccomp.optional() }).optional(),
  containers: z.array(ContainerSchema).min(1),
  volumes: z.array(z.object({
    name: z.string(), emptyDir: z.object({}).loose().optional(), secret: z.object({ secretName: z.string() }).optional(),
    projected: z.object({ sources: z.array(z.object({ serviceAccountToken: z.object({ audience: z.string().optional(), expirationSeconds: z.number().optional(), path: z.string() }).optional() })) }).optional(),
  })).default([]),
});
export type PodSpec = z.infer<typeof PodSpecSchema>;

export const DeploymentSchema = z.object({
  metadata: Meta,
  spec: z.object({
    replicas: z.number().optional(),
    selector: z.object({ matchLabels: Labels }),
    template: z.object({ metadata: z.object({ labels: Labels }), spec: PodSpecSchema }),
  }),
});

export const KServiceSchema = z.object({
  metadata: Meta,
  spec: z.object({
    template: z.object({
      metadata: z.object({ labels: Labels.default({}), annotations: Labels.default({}) }),
      spec: PodSpecSchema.extend({ containerConcurrency: z.number().optional(), timeoutSeconds: z.number().optional() }),
    }),
  }),
});

export const ServiceSchema = z.object({
  metadata: Meta,
  spec: z.object({ selector: Labels, ports: z.array(z.object({ port: z.number(), targetPort: z.union([z.string(), z.number()]) })) }),
});

const Ref = z.object({ apiVersion: z.string(), kind: z.string(), name: z.string() });
export const TriggerSchema = z.object({
  metadata: Meta,
  spec: z.object({ broker: z.string(), filter: z.object({ attributes: Labels.default({}) }).optional(), subscriber: z.object({ ref: Ref, audience: z.string().optional() }) }),
});
export const ApiServerSourceSchema = z.object({
  metadata: Meta,
  spec: z.object({
    mode: z.string(),
    serviceAccountName: z.string(),
    namespaceSelector: z.object({}).loose().optional(),
    resources: z.array(z.object({ apiVersion: z.string(), kind: z.string() })),
    sink: z.object({ ref: Ref }),
  }),
});
export const PingSourceSchema = z.object({ metadata: Meta, spec: z.object({ schedule: z.string(), sink: z.object({ ref: Ref }) }) });

const Selector = z.object({
  matchLabels: Labels.optional(),
  matchExpressions: z.array(z.object({ key: z.string(), operator: z.string(), values: z.array(z.string()).default([]) })).optional(),
});
export const NetworkPolicySchema = z.object({
  metadata: Meta,
  spec: z.object({
    podSelector: Selector,
    policyTypes: z.array(z.string()),
    ingress: z
      .array(
        z.object({
          from: z.array(z.object({ podSelector: Selector.optional(), namespaceSelector: Selector.optional() })).optional(),
          ports: z.array(z.object({ port: z.union([z.string(), z.number()]), protocol: z.string().optional() })).optional(),
        }),
      )
      .optional(),
  }),
});
export type Selector = z.infer<typeof Selector>;

/** Whether a label selector selects an object with these labels (In and Exists are enough here). */
export function selects(selector: Selector, labels: Record<string, string>): boolean {
  const byLabels = Object.entries(selector.matchLabels ?? {}).every(([k, v]) => labels[k] === v);
  const byExpressions = (selector.matchExpressions ?? []).every((e) => {
    const value = labels[e.key];
    if (e.operator === 'In') return value !== undefined && e.values.includes(value);
    if (e.operator === 'Exists') return value !== undefined;
    throw new Error(`selector operator ${e.operator} is not supported by this test`);
  });
  return byLabels && byExpressions;
}

export const RuleSchema = z.object({ apiGroups: z.array(z.string()), resources: z.array(z.string()), resourceNames: z.array(z.string()).optional(), verbs: z.array(z.string()) });
export const RoleSchema = z.object({ metadata: Meta, rules: z.array(RuleSchema) });
export const BindingSchema = z.object({
  metadata: Meta,
  roleRef: z.object({ kind: z.string(), name: z.string() }),
  subjects: z.array(z.object({ kind: z.string(), name: z.string(), namespace: z.string().optional() })),
});
export const ConfigMapSchema = z.object({ metadata: Meta, data: Labels });
