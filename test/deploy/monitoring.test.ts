/**
 * deploy/components/monitoring renders with kustomize on top of the overlays that serve
 * /metrics, adds exactly its PodMonitor, PrometheusRule and dashboard ConfigMap, and its
 * PodMonitor finds the pods and port that serve the series. (The test cluster has no Prometheus
 * Operator CRDs, so those two are checked through zod; the ConfigMap passes a server-side dry run.)
 */
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { testCluster } from '../helpers/cluster.js';
import { PodMonitorSchema, PrometheusRuleSchema, readDashboard } from './monitoring.js';
import { applyForReal, DEPLOY, dryRun, key, manifestOf, NAMESPACE, ofKind, one, render, renderWithComponents, type Overlay, type Rendered } from './render.js';
import { ConfigMapSchema, DeploymentSchema, selects } from './schemas.js';

const { kubectl } = testCluster();

/** An overlay of a user's: the given one plus the monitoring component. */
const renderWithMonitoring = (overlay: Overlay): Promise<Rendered> => renderWithComponents(kubectl, overlay, ['monitoring']);

/** The Deployment whose /metrics carries the series in each overlay. */
const SERVED_BY: Readonly<Partial<Record<Overlay, string>>> = { default: 'mikrolb-controller', knative: 'mikrolb-bridge' };

describe.each(Object.entries(SERVED_BY))('the monitoring component on overlay %s', (overlay, deployment) => {
  it('adds a PodMonitor, a PrometheusRule and the dashboard ConfigMap, and nothing else', async () => {
    const plain = await render(kubectl, join(DEPLOY, 'overlays', overlay));
    const monitored = await renderWithMonitoring(overlay as Overlay);
    const before = new Set(plain.docs.map(key));
    expect(monitored.docs.map(key).filter((k) => !before.has(k)).sort()).toEqual([
      `ConfigMap/${NAMESPACE}/mikrolb-grafana-dashboard`, `PodMonitor/${NAMESPACE}/mikrolb`, `PrometheusRule/${NAMESPACE}/mikrolb`,
    ]);
    expect(monitored.docs.length).toBe(plain.docs.length + 3);

    ofKind(monitored.docs, 'PrometheusRule', PrometheusRuleSchema);
    const dashboard = one(monitored.docs, 'ConfigMap', 'mikrolb-grafana-dashboard', ConfigMapSchema);
    expect(dashboard.metadata.labels?.grafana_dashboard).toBe('1');
    expect(JSON.parse(dashboard.data['mikrolb.json'] ?? '')).toEqual(await readDashboard());

    // the PodMonitor scrapes the pods that serve /metrics, on a port they have
    const [monitor] = ofKind(monitored.docs, 'PodMonitor', PodMonitorSchema);
    const served = one(monitored.docs, 'Deployment', deployment, DeploymentSchema);
    expect(monitor?.spec.selector && selects(monitor.spec.selector, served.spec.template.metadata.labels)).toBe(true);
    const ports = served.spec.template.spec.containers.flatMap((c) => c.ports.map((p) => p.name));
    expect(ports).toContain(monitor?.spec.podMetricsEndpoints[0]?.port);
    const probes = served.spec.template.spec.containers.map((c) => c.readinessProbe?.httpGet.port);
    expect(probes).toContain(monitor?.spec.podMetricsEndpoints[0]?.port); // the port /readyz (and /metrics) answer on

    // the dashboard ConfigMap is a valid object for the API server
    await applyForReal(kubectl, ['-f', '-'], manifestOf(monitored.docs.filter((d) => d.kind === 'Namespace')));
    const result = await dryRun(kubectl, manifestOf([monitored.docs.find((d) => d.kind === 'ConfigMap' && d.metadata.name === 'mikrolb-grafana-dashboard') ?? expect.unreachable()]));
    expect([result.code, result.stderr, result.applied.length]).toEqual([0, '', 1]);
  });
});
