{{/* Resource name of one component: <release>-<component>. */}}
{{- define "ecomind.name" -}}
{{- printf "%s-%s" .root.Release.Name .component | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "ecomind.selectorLabels" -}}
app.kubernetes.io/name: ecomind
app.kubernetes.io/instance: {{ .root.Release.Name }}
app.kubernetes.io/component: {{ .component }}
{{- end -}}

{{- define "ecomind.labels" -}}
{{ include "ecomind.selectorLabels" . }}
app.kubernetes.io/version: {{ .root.Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .root.Release.Service }}
helm.sh/chart: {{ printf "%s-%s" .root.Chart.Name .root.Chart.Version }}
{{- end -}}

{{/*
Image of one service: repository@digest when a digest is given, else repository:tag.
A tag is required and "latest" is refused: a release must name the exact image it runs.
*/}}
{{- define "ecomind.image" -}}
{{- $repository := required (printf "image.repositories.%s is required" .component) (index .root.Values.image.repositories .component) -}}
{{- $digest := index (.root.Values.image.digests | default dict) .component | default "" -}}
{{- if $digest -}}
{{- printf "%s@%s" $repository $digest -}}
{{- else -}}
{{- $tag := required "image.tag is required (no default tag)" .root.Values.image.tag -}}
{{- if eq $tag "latest" -}}{{- fail "image.tag must not be latest" -}}{{- end -}}
{{- printf "%s:%s" $repository $tag -}}
{{- end -}}
{{- end -}}

{{/* Pod-level security context of every EcoMind pod (Pod Security Standard "restricted"). */}}
{{- define "ecomind.podSecurityContext" -}}
runAsNonRoot: true
runAsUser: 10001
runAsGroup: 10001
fsGroup: 10001
seccompProfile:
  type: RuntimeDefault
{{- end -}}

{{- define "ecomind.containerSecurityContext" -}}
allowPrivilegeEscalation: false
privileged: false
readOnlyRootFilesystem: true
runAsNonRoot: true
runAsUser: 10001
capabilities:
  drop: ["ALL"]
seccompProfile:
  type: RuntimeDefault
{{- end -}}

{{/* Checkov skips shared by every EcoMind workload, each with its reason. */}}
{{- define "ecomind.checkovSkips" -}}
checkov.io/skip1: CKV_K8S_43=Images are pinned by immutable ECR tags (the registry refuses to repoint a tag); a digest can be given per service in image.digests
checkov.io/skip2: CKV_K8S_15=IfNotPresent is safe with immutable tags and keeps restarts independent of the registry
{{- if ne .component "ui" }}
checkov.io/skip3: CKV_K8S_35=Secrets arrive as env vars because the services read their configuration from the environment; they come from ExternalSecrets and never appear in values
{{- end }}
{{- end -}}

{{/* Spread a component's replicas over zones, and over nodes within a zone. */}}
{{- /* Spread per ReplicaSet (matchLabelKeys pod-template-hash: a rollout's new pods are
spread among themselves, not counted against the old ones), over nodes that can take the pod
(nodeTaintsPolicy Honor: a lost zone's tainted nodes are no domain to balance against, so
DoNotSchedule does not keep pods Pending; Kubernetes "Pod Topology Spread Constraints"). */ -}}
{{- define "ecomind.topologySpread" -}}
- maxSkew: 1
  topologyKey: topology.kubernetes.io/zone
  whenUnsatisfiable: {{ .root.Values.topologySpread.whenUnsatisfiable }}
  nodeTaintsPolicy: Honor
  matchLabelKeys: [pod-template-hash]
  labelSelector:
    matchLabels:
      {{- include "ecomind.selectorLabels" . | nindent 6 }}
- maxSkew: 1
  topologyKey: kubernetes.io/hostname
  whenUnsatisfiable: ScheduleAnyway
  nodeTaintsPolicy: Honor
  matchLabelKeys: [pod-template-hash]
  labelSelector:
    matchLabels:
      {{- include "ecomind.selectorLabels" . | nindent 6 }}
{{- end -}}

{{/* Name of the Kubernetes Secret an ExternalSecret produces. */}}
{{- define "ecomind.secretName" -}}
{{- printf "%s-%s" .root.Release.Name .secret -}}
{{- end -}}
