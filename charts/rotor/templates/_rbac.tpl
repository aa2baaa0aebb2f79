{{/*
Rules for the workloads, pods, certificates and events rotor touches in the
namespaces it manages: exactly the calls `rotor run` makes.
*/}}
{{- define "rotor.rbac.workloadRules" -}}
# Restarts set the pod-template annotation and follow the rollout.
- apiGroups: ["apps"]
  resources: ["deployments", "statefulsets", "daemonsets"]
  verbs: ["get", "list", "watch", "patch"]
# Rollout status of Deployments reads their ReplicaSets.
- apiGroups: ["apps"]
  resources: ["replicasets"]
  verbs: ["get", "list"]
# OnDelete workloads and bare meshed pods are replaced one pod at a time.
- apiGroups: [""]
  resources: ["pods"]
  verbs: ["list", "watch", "delete"]
- apiGroups: [""]
  resources: ["pods/eviction"]
  verbs: ["create"]
# Renewal sets the Issuing condition on the status subresource, as cmctl does.
- apiGroups: ["cert-manager.io"]
  resources: ["certificates"]
  verbs: ["get", "list", "watch"]
- apiGroups: ["cert-manager.io"]
  resources: ["certificates/status"]
  verbs: ["update"]
# The identity controller's IssuerUpdated / IssuerUpdateSkipped events.
- apiGroups: [""]
  resources: ["events"]
  verbs: ["list"]
# rotor's own events on the objects it changes.
- apiGroups: ["events.k8s.io"]
  resources: ["events"]
  verbs: ["create", "patch"]
{{- end }}
