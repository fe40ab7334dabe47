{{- define "modelverify.fullname" -}}
{{- default "modelverify" .Values.fullnameOverride | trunc 50 | trimSuffix "-" -}}
{{- end -}}

{{- define "modelverify.webhookName" -}}
{{- printf "%s-webhook" (include "modelverify.fullname" .) -}}
{{- end -}}

{{- define "modelverify.labels" -}}
app.kubernetes.io/name: modelverify
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version }}
{{- end -}}

{{- define "modelverify.selectorLabels" -}}
app.kubernetes.io/name: modelverify
app.kubernetes.io/component: webhook
{{- end -}}

{{- define "modelverify.tlsSecret" -}}
{{- default (printf "%s-tls" (include "modelverify.webhookName" .)) .Values.certificates.secretName -}}
{{- end -}}

{{- define "modelverify.image" -}}
{{- if .Values.image.digest -}}
{{ .Values.image.repository }}@{{ .Values.image.digest }}
{{- else if .Values.image.tag -}}
{{ .Values.image.repository }}:{{ .Values.image.tag }}
{{- else -}}
{{ fail "set image.digest (preferred) or image.tag" }}
{{- end -}}
{{- end -}}

{{- /* Checked once: the certificate mode and its inputs. */ -}}
{{- define "modelverify.validate" -}}
{{- if not (has .Values.certificates.mode (list "certManager" "secret")) -}}
{{ fail "certificates.mode must be certManager or secret" }}
{{- end -}}
{{- if and (eq .Values.certificates.mode "secret") (or (not .Values.certificates.secretName) (not .Values.certificates.caBundle)) -}}
{{ fail "certificates.mode secret needs certificates.secretName and certificates.caBundle" }}
{{- end -}}
{{- if not (has .Values.failurePolicy (list "Fail" "Ignore")) -}}
{{ fail "failurePolicy must be Fail or Ignore" }}
{{- end -}}
{{- end -}}

{{- define "modelverify.webhookCommon" -}}
admissionReviewVersions: ["v1"]
sideEffects: None
failurePolicy: {{ .Values.failurePolicy }}
timeoutSeconds: {{ .Values.timeoutSeconds }}
namespaceSelector:
  matchExpressions:
    - {key: kubernetes.io/metadata.name, operator: NotIn, values: {{ append .Values.excludedNamespaces .Release.Namespace | uniq | toJson }}}
    {{- range .Values.namespaceSelector.matchExpressions }}
    - {{ toJson . }}
    {{- end }}
rules:
  - {apiGroups: [""], apiVersions: ["v1"], operations: ["CREATE", "UPDATE"], resources: ["pods", "pods/ephemeralcontainers"], scope: Namespaced}
  - {apiGroups: ["apps"], apiVersions: ["v1"], operations: ["CREATE", "UPDATE"], resources: ["deployments", "statefulsets", "daemonsets", "replicasets"], scope: Namespaced}
  - {apiGroups: ["batch"], apiVersions: ["v1"], operations: ["CREATE", "UPDATE"], resources: ["jobs", "cronjobs"], scope: Namespaced}
  - {apiGroups: ["serving.kserve.io"], apiVersions: ["v1beta1"], operations: ["CREATE", "UPDATE"], resources: ["inferenceservices"], scope: Namespaced}
  - {apiGroups: ["serving.kserve.io"], apiVersions: ["v1alpha1"], operations: ["CREATE", "UPDATE"], resources: ["llminferenceservices"], scope: Namespaced}
{{- end -}}

{{- define "modelverify.clientConfig" -}}
clientConfig:
  service: {name: {{ include "modelverify.webhookName" .root }}, namespace: {{ .root.Release.Namespace }}, path: {{ .path }}, port: 443}
  {{- if eq .root.Values.certificates.mode "secret" }}
  caBundle: {{ .root.Values.certificates.caBundle }}
  {{- end }}
{{- end -}}

{{- define "modelverify.webhookAnnotations" -}}
{{- if eq .Values.certificates.mode "certManager" }}
annotations:
  cert-manager.io/inject-ca-from: {{ .Release.Namespace }}/{{ include "modelverify.webhookName" . }}
{{- end }}
{{- end -}}
