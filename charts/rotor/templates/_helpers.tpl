{{/* Chart name, 63 characters at most. */}}
{{- define "rotor.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* Full name: release-chart unless the release name already holds it. */}}
{{- define "rotor.fullname" -}}
{{- if .Values.fullnameOverride }}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- $name := default .Chart.Name .Values.nameOverride }}
{{- if contains $name .Release.Name }}
{{- .Release.Name | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- printf "%s-%s" .Release.Name $name | trunc 63 | trimSuffix "-" }}
{{- end }}
{{- end }}
{{- end }}

{{/*
CronJob name: 52 characters at most, because the controller appends an
11-character suffix to name each Job and Job names stop at 63.
*/}}
{{- define "rotor.cronJobName" -}}
{{- include "rotor.fullname" . | trunc 52 | trimSuffix "-" }}
{{- end }}

{{- define "rotor.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{- end }}

{{- define "rotor.selectorLabels" -}}
app.kubernetes.io/name: {{ include "rotor.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{/* Standard labels; pass a dict with "root" and "component". */}}
{{- define "rotor.labels" -}}
{{- $root := .root -}}
helm.sh/chart: {{ include "rotor.chart" $root }}
{{ include "rotor.selectorLabels" $root }}
app.kubernetes.io/version: {{ $root.Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ $root.Release.Service }}
app.kubernetes.io/part-of: rotor
{{- with .component }}
app.kubernetes.io/component: {{ . }}
{{- end }}
{{- with $root.Values.commonLabels }}
{{ toYaml . }}
{{- end }}
{{- end }}

{{- define "rotor.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (include "rotor.fullname" .) .Values.serviceAccount.name }}
{{- else }}
{{- default "default" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{/* image reference: repository, then @digest or :tag. */}}
{{- define "rotor.imageRef" -}}
{{- if .digest }}
{{- printf "%s@%s" .repository .digest }}
{{- else }}
{{- printf "%s:%s" .repository (required "image tag must not be empty" .tag) }}
{{- end }}
{{- end }}

{{- define "rotor.image" -}}
{{- include "rotor.imageRef" (dict "repository" .Values.image.repository "digest" .Values.image.digest "tag" (default .Chart.AppVersion .Values.image.tag)) }}
{{- end }}

{{/*
Namespaces rotor manages with namespace-scoped RBAC: the configured list plus
the Linkerd and cert-manager namespaces, whose certificates, events and
workloads every rotation touches.
*/}}
{{- define "rotor.managedNamespaces" -}}
{{- $all := concat (list .Values.linkerd.namespace .Values.linkerd.certManagerNamespace) .Values.rbac.namespaces -}}
{{- toJson (uniq $all) }}
{{- end }}

{{/* The run configuration handed to `rotor run --config`. */}}
{{- define "rotor.runConfig" -}}
{{- $l := .Values.linkerd -}}
{{- $g := .Values.grants -}}
{{- $nsDefault := list "*" -}}
{{- if eq .Values.rbac.scope "Namespaced" }}
{{- $nsDefault = include "rotor.managedNamespaces" . | fromJsonArray -}}
{{- end }}
{{- $readSecrets := list (printf "%s/%s" $l.certManagerNamespace $l.trustAnchorName) (printf "%s/%s" $l.certManagerNamespace $l.previousAnchorName) (printf "%s/%s" $l.namespace $l.identityIssuerName) -}}
{{- $writeSecrets := list (printf "%s/%s" $l.certManagerNamespace $l.previousAnchorName) -}}
{{- /*
The embedded policy is told where the Linkerd objects are, so it reads the
objects the RBAC names (its own defaults are the linkerd and cert-manager
namespaces); keys set in policy.config win. A site policy gets policy.config
as it is: its keys are its own.
*/ -}}
{{- $policy := .Values.policy.config -}}
{{- if eq .Values.policy.source "embedded" }}
{{- $names := dict
  "trustAnchor" (dict "namespace" $l.certManagerNamespace "name" $l.trustAnchorName)
  "identityIssuer" (dict "namespace" $l.namespace "name" $l.identityIssuerName)
  "previousAnchorSecret" (dict "namespace" $l.certManagerNamespace "name" $l.previousAnchorName)
  "trustRootsConfigMap" (dict "namespace" $l.namespace "name" $l.trustRootsName)
  "controlPlaneNamespace" $l.namespace -}}
{{- $policy = merge (deepCopy .Values.policy.config) $names -}}
{{- end }}
{{- $cfg := dict
  "policy" $policy
  "grants" (dict
    "readNamespaces" (ternary $nsDefault $g.readNamespaces (kindIs "invalid" $g.readNamespaces))
    "writeNamespaces" (ternary $nsDefault $g.writeNamespaces (kindIs "invalid" $g.writeNamespaces))
    "readSecrets" (ternary $readSecrets $g.readSecrets (kindIs "invalid" $g.readSecrets))
    "writeSecrets" (ternary $writeSecrets $g.writeSecrets (kindIs "invalid" $g.writeSecrets))
    "verbs" $g.verbs)
  "limits" .Values.limits
  "events" (dict "subject" (dict "kind" "Certificate" "namespace" $l.certManagerNamespace "name" $l.trustAnchorName)) -}}
{{- toYaml $cfg }}
{{- end }}

{{/* A Certificate's privateKey block; size only where the algorithm has one. */}}
{{- define "rotor.privateKey" -}}
algorithm: {{ .algorithm }}
{{- if and (ne .algorithm "Ed25519") (hasKey . "size") }}
size: {{ .size }}
{{- end }}
rotationPolicy: {{ .rotationPolicy }}
{{- end }}
