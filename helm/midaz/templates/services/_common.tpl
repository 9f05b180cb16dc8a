{{/* Shared parts of the optional in-cluster services. */}}

{{- define "midaz.services.podSecurityContext" -}}
runAsNonRoot: true
runAsUser: 999
runAsGroup: 999
fsGroup: 999
seccompProfile:
  type: RuntimeDefault
{{- end -}}

{{/* (dict "readOnly" true|false) */}}
{{- define "midaz.services.securityContext" -}}
runAsNonRoot: true
runAsUser: 999
runAsGroup: 999
allowPrivilegeEscalation: false
readOnlyRootFilesystem: {{ .readOnly }}
privileged: false
capabilities:
  drop: ["ALL"]
seccompProfile:
  type: RuntimeDefault
{{- end -}}

{{/* (dict "name" "data" "persistence" .Values.x.persistence) */}}
{{- define "midaz.services.volumeClaim" -}}
- metadata:
    name: {{ .name }}
  spec:
    accessModes: ["ReadWriteOnce"]
    {{- with .persistence.storageClass }}
    storageClassName: {{ . | quote }}
    {{- end }}
    resources:
      requests:
        storage: {{ .persistence.size }}
{{- end -}}

{{/* A headless Service for a StatefulSet (also how the ledger reaches it: one pod).
(dict "ctx" $ "name" n "component" c "port" p "portName" pn) */}}
{{- define "midaz.services.service" -}}
apiVersion: v1
kind: Service
metadata:
  name: {{ .name }}
  labels:
    {{- include "midaz.labels" (dict "ctx" .ctx "component" .component) | nindent 4 }}
spec:
  clusterIP: None
  publishNotReadyAddresses: false
  ports:
    - name: {{ .portName }}
      port: {{ .port }}
      targetPort: {{ .portName }}
      protocol: TCP
  selector:
    {{- include "midaz.selectorLabels" (dict "ctx" .ctx "component" .component) | nindent 4 }}
{{- end -}}
