{{/*
Name of every object of the release: the release name, prefixed with "fedlet-" unless it already
contains "fedlet". Kept to 52 characters so derived names (suffixes such as -lower-kubeconfig) stay
valid DNS labels.
*/}}
{{- define "fedlet.fullname" -}}
{{- if .Values.fullnameOverride -}}
{{- .Values.fullnameOverride | trunc 52 | trimSuffix "-" -}}
{{- else if contains "fedlet" .Release.Name -}}
{{- .Release.Name | trunc 52 | trimSuffix "-" -}}
{{- else -}}
{{- printf "fedlet-%s" .Release.Name | trunc 52 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}

{{- define "fedlet.selectorLabels" -}}
app.kubernetes.io/name: fedlet
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}

{{- define "fedlet.labels" -}}
{{ include "fedlet.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" }}
{{- with .Values.clusterName }}
fedlet.io/cluster: {{ . }}
{{- end }}
{{- end -}}

{{/*
The virtual node's name: by default the release's (its ServiceAccount's) name, which the admission policy
requires — each fedlet account may write only the Node named after it (or <name>-<pool>).
*/}}
{{- define "fedlet.nodeName" -}}
{{- .Values.nodeName | default (include "fedlet.fullname" .) -}}
{{- end -}}

{{- define "fedlet.summaryNamespace" -}}
{{- .Values.summaryNamespace | default .Release.Namespace -}}
{{- end -}}

{{- define "fedlet.lowerSecretName" -}}
{{- .Values.lowerKubeconfig.existingSecret | default (printf "%s-lower-kubeconfig" (include "fedlet.fullname" .)) -}}
{{- end -}}

{{- define "fedlet.extenderName" -}}
{{- printf "%s-extender" (include "fedlet.fullname" .) -}}
{{- end -}}

{{- define "fedlet.webhookSecretName" -}}
{{- .Values.extender.webhook.existingSecret | default (printf "%s-webhook-tls" (include "fedlet.extenderName" .)) -}}
{{- end -}}

{{- define "fedlet.image" -}}
{{- printf "%s:%s" .Values.image.repository (.Values.image.tag | default .Chart.AppVersion) -}}
{{- end -}}

{{/* Stops rendering with a message naming the value when the values cannot work. */}}
{{- define "fedlet.validate" -}}
{{- if not (has .Values.target (list "upper" "lower")) -}}
{{- fail (printf "target must be \"upper\" or \"lower\", got %q" .Values.target) -}}
{{- end -}}
{{- if eq .Values.target "upper" -}}
{{- $_ := required "clusterName is required: the name of the lower cluster (a DNS label), e.g. --set clusterName=eu-1" .Values.clusterName -}}
{{- if and .Values.clusterName (not (regexMatch "^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$" .Values.clusterName)) -}}
{{- fail (printf "clusterName %q is not a DNS label (lower-case letters, digits and '-', at most 63)" .Values.clusterName) -}}
{{- end -}}
{{- $full := include "fedlet.fullname" . -}}
{{- if and .Values.nodeName (ne .Values.nodeName $full) (not (hasPrefix (printf "%s-" $full) .Values.nodeName)) -}}
{{- fail (printf "nodeName %q must be the release's name %q (or start with %q): fedlet's account may write only the virtual Node named after it; install the release under the node's name instead" .Values.nodeName $full (printf "%s-" $full)) -}}
{{- end -}}
{{- if and .Values.lowerKubeconfig.existingSecret .Values.lowerKubeconfig.content -}}
{{- fail "give lowerKubeconfig.existingSecret or lowerKubeconfig.content, not both" -}}
{{- end -}}
{{- $_ := required "the lower cluster's kubeconfig is required: --set lowerKubeconfig.existingSecret=NAME or --set-file lowerKubeconfig.content=FILE" (.Values.lowerKubeconfig.existingSecret | default .Values.lowerKubeconfig.content) -}}
{{- if not (has .Values.servingCert.mode (list "csr" "files" "self-signed")) -}}
{{- fail (printf "servingCert.mode must be csr, files or self-signed, got %q" .Values.servingCert.mode) -}}
{{- end -}}
{{- if and (eq .Values.servingCert.mode "files") (not .Values.servingCert.existingSecret) -}}
{{- fail "servingCert.mode=files needs servingCert.existingSecret (a kubernetes.io/tls Secret)" -}}
{{- end -}}
{{- if and .Values.storageClass.create (not (has .Values.storageClass.reclaimPolicy (list "Delete" "Retain"))) -}}
{{- fail (printf "storageClass.reclaimPolicy must be Delete or Retain, got %q" .Values.storageClass.reclaimPolicy) -}}
{{- end -}}
{{- end -}}
{{- end -}}

{{- define "fedlet.extenderTLSSecret" -}}
{{- .Values.extender.tls.secretName | default (printf "%s-tls" (include "fedlet.extenderName" .)) -}}
{{- end -}}

{{/*
The extender stanza of a KubeSchedulerConfiguration, pointing at this release's extender Service over
HTTPS with kube-scheduler's client certificate (files on the scheduler's host).
*/}}
{{- define "fedlet.schedulerConfig" -}}
apiVersion: kubescheduler.config.k8s.io/v1
kind: KubeSchedulerConfiguration
extenders:
  - urlPrefix: https://{{ .Values.extender.clusterIP | default (printf "%s.%s.svc" (include "fedlet.extenderName" .) .Release.Namespace) }}:{{ .Values.extender.port }}
    tlsConfig:
      certFile: {{ .Values.extender.schedulerTLS.certFile }}
      keyFile: {{ .Values.extender.schedulerTLS.keyFile }}
      caFile: {{ .Values.extender.schedulerTLS.caFile }}
      {{- with .Values.extender.schedulerTLS.serverName }}
      serverName: {{ . }}
      {{- end }}
    filterVerb: filter
    prioritizeVerb: prioritize
    weight: 1
    nodeCacheCapable: true
    ignorable: true
    httpTimeout: 5s
{{- end -}}

{{/*
Keeps fedlet's own pods on real nodes of the upper cluster: on a virtual node (another fedlet's) they
would run in a lower cluster, where the upper API server cannot reach their kubelet port.
*/}}
{{- define "fedlet.notOnVirtualNodes" -}}
nodeAffinity:
  requiredDuringSchedulingIgnoredDuringExecution:
    nodeSelectorTerms:
      - matchExpressions:
          - { key: type, operator: NotIn, values: [virtual-kubelet] }
{{- end -}}
