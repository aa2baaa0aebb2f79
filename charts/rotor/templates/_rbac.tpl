{{/*
Rules for the workloads, pods, certificates and events rotor touches in the
namespaces it manages: exactly the calls `rotor run` makes.
*/}}
{{- define "rotor.rbac.workloadRules" -}}
# Restarts set the pod-template annotation and follow the rollout.
- apiGroups: ["apps"]
  resources: ["deployments", "statefulsets", "daemonsets"]
  verbs: ["get", "list", "watch", "patch"]
# Pods are matched to their Deployment through its ReplicaSets.
- apiGroups: ["apps"]
  resources: ["replicasets"]
  verbs: ["list"]
# Pods show which roots each proxy started with; OnDelete workloads and bare
# meshed pods are replaced one pod at a time.
- apiGroups: [""]
  resources: ["pods"]
  verbs: ["list", "delete"]
# The evict-pod grant (respects PodDisruptionBudgets); the default policy
# deletes instead, site policies may evict.
- apiGroups: [""]
  resources: ["pods/eviction"]
  verbs: ["create"]
{{- $kinds := values (.Values.policy.unowned.ownerKinds | default dict) }}
{{- if has "argo-rollouts" $kinds }}
# policy.unowned names argo-rollouts: restart-owner sets a Rollout's
# spec.restartAt (a merge patch; Argo Rollouts restarts the pods).
- apiGroups: ["argoproj.io"]
  resources: ["rollouts"]
  verbs: ["patch"]
{{- end }}
{{- if has "strimzi" $kinds }}
# policy.unowned names strimzi: restart-owner annotates a StrimziPodSet
# strimzi.io/manual-rolling-update=true (the Cluster Operator rolls it).
- apiGroups: ["core.strimzi.io"]
  resources: ["strimzipodsets"]
  verbs: ["patch"]
{{- end }}
# Renewal reads the Certificate and sets the Issuing condition on its status
# subresource, as cmctl does.
- apiGroups: ["cert-manager.io"]
  resources: ["certificates"]
  verbs: ["get"]
- apiGroups: ["cert-manager.io"]
  resources: ["certificates/status"]
  verbs: ["update"]
# The identity controller's IssuerUpdated / IssuerUpdateSkipped events.
- apiGroups: [""]
  resources: ["events"]
  verbs: ["list"]
# The record-event grant: events a policy records on the objects it changes
# (kube's event recorder creates them and patches repeats).
- apiGroups: ["events.k8s.io"]
  resources: ["events"]
  verbs: ["create", "patch"]
{{- end }}
