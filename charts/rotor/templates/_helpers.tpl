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

{{- define "rotor.resumeCronJobName" -}}
{{- printf "%s-resume" (include "rotor.fullname" . | trunc 45 | trimSuffix "-") }}
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
{{- $staged := .Values.stagedAnchor.enabled -}}
{{- /* A staged anchor's second anchor is read where the previous anchor was read and written. */ -}}
{{- $secondAnchor := ternary .Values.stagedAnchor.nextCertificate $l.previousAnchorName $staged -}}
{{- $readSecrets := list (printf "%s/%s" $l.certManagerNamespace $l.trustAnchorName) (printf "%s/%s" $l.certManagerNamespace $secondAnchor) (printf "%s/%s" $l.namespace $l.identityIssuerName) -}}
{{- $writeSecrets := ternary (list) (list (printf "%s/%s" $l.certManagerNamespace $l.previousAnchorName)) $staged -}}
{{- $rotorWrites := eq .Values.bundle.writer "rotor" -}}
{{- $writeConfigMaps := ternary (list (printf "%s/%s" $l.namespace $l.trustRootsName)) (list) $rotorWrites -}}
{{- $writeIssuers := ternary (list (printf "ClusterIssuer/%s" $l.identityIssuerName)) (list) $staged -}}
{{- $verbs := $g.verbs -}}
{{- if and $rotorWrites (not (has "write-config-map" $verbs)) }}
{{- $verbs = append $verbs "write-config-map" -}}
{{- end }}
{{- if and $staged (not (has "set-ca-issuer" $verbs)) }}
{{- $verbs = append $verbs "set-ca-issuer" -}}
{{- end }}
{{- /*
The embedded policy is told where the Linkerd objects are, so it reads the
objects the RBAC names (its own defaults are the linkerd and cert-manager
namespaces), how often the CronJob runs, so its preflight lint judges
renewals against the real next run, and what to do with meshed pods of
owners it does not restart (policy.unowned), who writes the trust
bundle (bundle.writer), and with stagedAnchor.enabled its mode and second
anchor (mode: staged, nextAnchor; no previousAnchorSecret, which a staged
anchor does not keep); keys set in policy.config win. A site policy gets policy.config
as it is: its keys are its own.
*/ -}}
{{- $policy := .Values.policy.config -}}
{{- if eq .Values.policy.source "embedded" }}
{{- $names := dict
  "trustAnchor" (dict "namespace" $l.certManagerNamespace "name" $l.trustAnchorName)
  "identityIssuer" (dict "namespace" $l.namespace "name" $l.identityIssuerName)
  "previousAnchorSecret" (dict "namespace" $l.certManagerNamespace "name" $l.previousAnchorName)
  "trustRootsConfigMap" (dict "namespace" $l.namespace "name" $l.trustRootsName)
  "controlPlaneNamespace" $l.namespace
  "scheduleIntervalSeconds" (int .Values.cronJob.scheduleIntervalSeconds)
  "unowned" .Values.policy.unowned
  "identityMetrics" $l.identityMetrics
  "bundle" (dict "writer" .Values.bundle.writer) -}}
{{- if $staged }}
{{- $_ := unset $names "previousAnchorSecret" }}
{{- $_ = set $names "mode" "staged" }}
{{- $_ = set $names "nextAnchor" (dict "namespace" $l.certManagerNamespace "name" .Values.stagedAnchor.nextCertificate) }}
{{- end }}
{{- $policy = merge (deepCopy .Values.policy.config) $names -}}
{{- end }}
{{- $grants := dict
    "readNamespaces" (ternary $nsDefault $g.readNamespaces (kindIs "invalid" $g.readNamespaces))
    "writeNamespaces" (ternary $nsDefault $g.writeNamespaces (kindIs "invalid" $g.writeNamespaces))
    "readSecrets" (ternary $readSecrets $g.readSecrets (kindIs "invalid" $g.readSecrets))
    "writeSecrets" (ternary $writeSecrets $g.writeSecrets (kindIs "invalid" $g.writeSecrets))
    "podMetrics" (ternary (list (printf "%s/9990" $l.namespace)) (list) (eq $l.identityMetrics true))
    "writeConfigMaps" (ternary $writeConfigMaps $g.writeConfigMaps (kindIs "invalid" $g.writeConfigMaps))
    "writeIssuers" (ternary $writeIssuers $g.writeIssuers (kindIs "invalid" $g.writeIssuers))
    "verbs" $verbs -}}
{{- $cfg := dict
  "policy" $policy
  "grants" $grants
  "limits" .Values.limits
  "events" (dict "subject" (dict "kind" "Certificate" "namespace" $l.certManagerNamespace "name" $l.trustAnchorName)) -}}
{{- /*
The management cluster's run reaches every cluster of the mesh through the
kubeconfig in its Secret here. A member that is not the anchor's home also
writes its copy of the anchor: its grants are the top-level ones plus that
Secret, unless its entry names its own.
*/}}
{{- if eq .Values.multicluster.role "management" }}
{{- $anchor := printf "%s/%s" $l.certManagerNamespace $l.trustAnchorName -}}
{{- $homes := 0 -}}
{{- range .Values.multicluster.clusters }}
{{- if .home }}
{{- $homes = add1 $homes -}}
{{- end }}
{{- end }}
{{- if ne $homes 1 }}
{{- fail (printf "multicluster.clusters must list the mesh's clusters with exactly one home: true (found %d)" $homes) }}
{{- end }}
{{- $clusters := list -}}
{{- range $c := .Values.multicluster.clusters }}
{{- $entry := dict "name" $c.name "kubeconfigSecret" (dict "namespace" $.Release.Namespace "name" $c.kubeconfigSecret.name "key" ($c.kubeconfigSecret.key | default "kubeconfig")) -}}
{{- if $c.home }}
{{- $_ := set $entry "home" true -}}
{{- end }}
{{- if $c.policy }}
{{- $_ := set $entry "policy" $c.policy -}}
{{- end }}
{{- if $c.grants }}
{{- $_ := set $entry "grants" $c.grants -}}
{{- else if not $c.home }}
{{- $own := deepCopy $grants -}}
{{- $_ := set $own "writeSecrets" (append (get $grants "writeSecrets") $anchor | uniq) -}}
{{- $_ := set $entry "grants" $own -}}
{{- end }}
{{- $clusters = append $clusters $entry -}}
{{- end }}
{{- $_ := set $cfg "clusters" $clusters -}}
{{- end }}
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

{{/*
Where the CronJob mounts what an OCI policy needs. The keys' paths are
written into the verification config, so the two must agree.
*/}}
{{- define "rotor.ociPaths" -}}
{{- toJson (dict
  "auth" "/etc/rotor/registry-auth"
  "ca" "/etc/rotor/registry-ca"
  "keys" "/etc/rotor/policy-keys"
  "verify" "/etc/rotor/verify.yaml"
  "cache" "/var/cache/rotor/policies") }}
{{- end }}

{{/*
True (non-empty) when an OCI policy's signatures are checked. Fails on a
reference that is not pinned by digest and on keys without a source, so a
bad value set stops at render time with a message naming the value (the
schema refuses the same; this holds under --skip-schema-validation too).
*/}}
{{- define "rotor.ociVerified" -}}
{{- $oci := .Values.policy.oci -}}
{{- $ref := required "policy.oci.reference is required when policy.source is oci (oci://HOST/REPO@sha256:DIGEST, as `rotor policy push` prints it)" $oci.reference -}}
{{- if or (not (hasPrefix "oci://" $ref)) (not (contains "@sha256:" $ref)) }}
{{- fail (printf "policy.oci.reference %q must be oci://HOST/REPO@sha256:DIGEST: the chart runs a policy pinned by its manifest digest, never a tag alone" $ref) }}
{{- end }}
{{- $v := $oci.verification -}}
{{- if and $v.keysSecret $v.keysConfigMap }}
{{- fail "policy.oci.verification: set keysSecret or keysConfigMap, not both" }}
{{- end }}
{{- $source := or $v.keysSecret $v.keysConfigMap -}}
{{- if and $source (not $v.keys) }}
{{- fail "policy.oci.verification.keys must list the public key files when keysSecret or keysConfigMap is set" }}
{{- end }}
{{- if and $v.keys (not $source) }}
{{- fail "policy.oci.verification.keys needs keysSecret or keysConfigMap to say where the keys are" }}
{{- end }}
{{- if lt (int $v.threshold) 1 }}
{{- fail (printf "policy.oci.verification.threshold must be at least 1, not %v" $v.threshold) }}
{{- end }}
{{- if and $v.keys (gt (int $v.threshold) (len $v.keys)) }}
{{- fail (printf "policy.oci.verification.threshold %d is more than the %d key(s) listed" (int $v.threshold) (len $v.keys)) }}
{{- end }}
{{- if $v.keys }}true{{ end }}
{{- end }}

{{/* The verification config handed to `rotor run --verify`. */}}
{{- define "rotor.verifyConfig" -}}
{{- $dir := (include "rotor.ociPaths" . | fromJson).keys -}}
{{- $v := .Values.policy.oci.verification -}}
{{- $keys := list -}}
{{- range $v.keys }}
{{- $keys = append $keys (dict "name" (trimSuffix ".pub" .) "path" (printf "%s/%s" $dir .)) -}}
{{- end }}
{{- toYaml (dict "keys" $keys "threshold" (int $v.threshold)) }}
{{- end }}
