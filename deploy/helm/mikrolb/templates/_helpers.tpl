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
