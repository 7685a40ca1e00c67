{{/*
Labels on every object's metadata: the part-of label kustomize's `labels` adds to every object
of deploy/, and Helm's own (the compare test in test/deploy/helm.test.ts ignores only these two).
*/}}
{{- define "mikrolb.labels" -}}
app.kubernetes.io/part-of: mikrolb
{{ include "mikrolb.helmLabels" . }}
{{- end }}

{{/*
Helm's two labels alone: on the monitoring objects, which deploy/components/monitoring adds
without the part-of label (a component's objects do not get the overlay's `labels`).
*/}}
{{- define "mikrolb.helmLabels" -}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- end }}

{{/* The container image of every component. */}}
{{- define "mikrolb.image" -}}
{{ printf "%s:%s" .Values.image.repository .Values.image.tag | quote }}
{{- end }}

{{/* true when the functions run as Knative Services (both Knative modes). */}}
{{- define "mikrolb.knative" -}}
{{- if or (eq .Values.mode "knative") (eq .Values.mode "knative-eventing") }}true{{ end }}
{{- end }}

{{/*
true on a cluster older than Kubernetes 1.30 (its version as Helm reads it; `helm template
--kube-version` sets one for a render without a cluster), where ValidatingAdmissionPolicy v1 and
CRD selectableFields do not exist yet: there the chart leaves out the Service-write policy and
the IPAllocation CRD's selectableFields, as the kustomize patches of docs/installation.md do.
Helm's stand-in without a cluster, 1.20.0, is older than any Kubernetes MikroLB runs on (1.24),
so it counts as current: a plain `helm template` keeps the policy.
*/}}
{{- define "mikrolb.oldKubernetes" -}}
{{- $version := .Capabilities.KubeVersion.Version }}
{{- if and (semverCompare "<1.30-0" $version) (semverCompare ">=1.21-0" $version) }}true{{ end }}
{{- end }}

{{/*
The router's API port for the egress NetworkPolicy: egress.router.port when set, else the port
of router.url when the chart creates the router Secret (its port, or 8728 for api://, 8729 for
api-ssl://), else 8729. Both set and different: the policy would block the router the Secret
names, so the chart refuses them.
*/}}
{{- define "mikrolb.routerPort" -}}
{{- $url := trim (.Values.router.url | default "") }}
{{- $fromUrl := 0 }}
{{- if and .Values.router.createSecret $url }}
{{- $explicit := regexFind ":[0-9]+/?$" (regexReplaceAll "^[a-z-]+://" $url "") }}
{{- if $explicit }}{{ $fromUrl = trimSuffix "/" $explicit | trimPrefix ":" | atoi }}
{{- else if hasPrefix "api-ssl://" $url }}{{ $fromUrl = 8729 }}
{{- else }}{{ $fromUrl = 8728 }}{{ end }}
{{- end }}
{{- $set := .Values.egress.router.port }}
{{- if and $set $fromUrl (ne (int $set) $fromUrl) }}
{{- fail (printf "egress.router.port %d is not the port of router.url %s (%d): the NetworkPolicy would block the router; set them alike, or leave egress.router.port empty" (int $set) $url $fromUrl) }}
{{- end }}
{{- if $set }}{{ int $set }}{{ else if $fromUrl }}{{ $fromUrl }}{{ else }}8729{{ end }}
{{- end }}
