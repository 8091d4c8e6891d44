{{/* Chart name, at most 63 characters. */}}
{{- define "kconnect.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/*
Full name of the release's objects: <release>-<chart>, or the release name
when it already contains the chart name; at most 63 characters.
*/}}
{{- define "kconnect.fullname" -}}
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

{{/* chart label value: name-version */}}
{{- define "kconnect.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/*
Selector labels of the operator Pods. The component keeps them apart from
the worker Pods the operator creates (component=worker).
*/}}
{{- define "kconnect.selectorLabels" -}}
app.kubernetes.io/name: {{ include "kconnect.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/component: operator
{{- end }}

{{/* Labels of every object of the chart. */}}
{{- define "kconnect.labels" -}}
helm.sh/chart: {{ include "kconnect.chart" . }}
{{ include "kconnect.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- end }}

{{/* Name of the operator's ServiceAccount. */}}
{{- define "kconnect.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (include "kconnect.fullname" .) .Values.serviceAccount.name }}
{{- else }}
{{- required "serviceAccount.name is required when serviceAccount.create is false" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{/* The operator image, tag defaulting to the appVersion. */}}
{{- define "kconnect.image" -}}
{{- printf "%s:%s" .Values.image.repository (default .Chart.AppVersion .Values.image.tag) }}
{{- end }}

{{/* Name of the leader-election Lease. */}}
{{- define "kconnect.leaseName" -}}
{{- default (include "kconnect.fullname" .) .Values.operator.leaseName }}
{{- end }}

{{/*
The namespaces the operator watches, validated: a list of DNS labels
without duplicates. Prints them comma-separated (empty: all namespaces).
*/}}
{{- define "kconnect.watchNamespaces" -}}
{{- $seen := list }}
{{- range .Values.watchNamespaces }}
{{- if not (regexMatch "^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$" (toString .)) }}
{{- fail (printf "watchNamespaces: %q is not a namespace name" (toString .)) }}
{{- end }}
{{- if has . $seen }}
{{- fail (printf "watchNamespaces: %q is listed twice" .) }}
{{- end }}
{{- $seen = append $seen . }}
{{- end }}
{{- join "," $seen }}
{{- end }}

{{/*
What the operator does in a namespace it watches (ClusterRole rules, or
Role rules in each watched namespace). Least privilege: no Secrets, no
ConfigMaps, no pod exec; worker Pods are created and deleted, never patched.
*/}}
{{- define "kconnect.watchRules" -}}
# ConnectCluster and Connector: watched, finalizers added and removed.
- apiGroups: ["kconnect.dev"]
  resources: ["connectclusters", "connectors"]
  verbs: ["get", "list", "watch", "patch", "update"]
# Their status (Ready condition, workers, tasks).
- apiGroups: ["kconnect.dev"]
  resources: ["connectclusters/status", "connectors/status"]
  verbs: ["get", "patch", "update"]
# Worker Pods carry an ownerReference with blockOwnerDeletion to their
# ConnectCluster: setting it needs update on the owner's finalizers where
# the OwnerReferencesPermissionEnforcement admission plugin runs.
- apiGroups: ["kconnect.dev"]
  resources: ["connectclusters/finalizers", "connectors/finalizers"]
  verbs: ["update"]
# Worker Pods <cluster>-worker-<n>: created, watched, deleted (drained first).
- apiGroups: [""]
  resources: ["pods"]
  verbs: ["get", "list", "watch", "create", "delete"]
# The REST API Service <cluster>-connect-api (server-side apply).
- apiGroups: [""]
  resources: ["services"]
  verbs: ["get", "list", "watch", "create", "patch"]
# Secrets named by a ConnectCluster's spec.tls and spec.authentication: read
# by name for the operator's own Kafka clients and the hash that rolls the
# workers when they change. Only get: never listed or watched.
- apiGroups: [""]
  resources: ["secrets"]
  verbs: ["get"]
# The REST NetworkPolicy <cluster>-connect-api (server-side apply; deleted
# when a cluster turns it off).
- apiGroups: ["networking.k8s.io"]
  resources: ["networkpolicies"]
  verbs: ["get", "create", "patch", "delete"]
# Events about ConnectClusters and Connectors.
- apiGroups: ["events.k8s.io"]
  resources: ["events"]
  verbs: ["create", "patch"]
{{- if .Values.rbac.workerRestWrites }}
# ConnectClusters with spec.restApi.writes: the workers' service account
# <cluster>-worker and a Role + RoleBinding letting it change Connectors.
# Granting that Role needs the same rights on Connectors (RBAC's escalation
# check), hence create and delete here.
- apiGroups: ["kconnect.dev"]
  resources: ["connectors"]
  verbs: ["create", "delete"]
- apiGroups: [""]
  resources: ["serviceaccounts"]
  verbs: ["get", "create", "patch", "delete"]
- apiGroups: ["rbac.authorization.k8s.io"]
  resources: ["roles", "rolebindings"]
  verbs: ["get", "create", "patch", "delete"]
{{- end }}
{{- end }}
