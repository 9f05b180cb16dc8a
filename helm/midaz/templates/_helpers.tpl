{{/* Names ------------------------------------------------------------------------------------ */}}

{{- define "midaz.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "midaz.fullname" -}}
{{- if .Values.fullnameOverride -}}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- $name := default .Chart.Name .Values.nameOverride -}}
{{- if contains $name .Release.Name -}}
{{- .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name $name | trunc 63 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}
{{- end -}}

{{/* A component's resource name: (dict "ctx" $ "suffix" "worker") */}}
{{- define "midaz.componentName" -}}
{{- printf "%s-%s" (include "midaz.fullname" .ctx) .suffix | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "midaz.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "midaz.selectorLabels" -}}
app.kubernetes.io/name: {{ include "midaz.name" .ctx }}
app.kubernetes.io/instance: {{ .ctx.Release.Name }}
app.kubernetes.io/component: {{ .component }}
{{- end -}}

{{/* Labels of a component: (dict "ctx" $ "component" "api") */}}
{{- define "midaz.labels" -}}
helm.sh/chart: {{ include "midaz.chart" .ctx }}
{{ include "midaz.selectorLabels" . }}
app.kubernetes.io/version: {{ include "midaz.imageTag" .ctx | quote }}
app.kubernetes.io/managed-by: {{ .ctx.Release.Service }}
app.kubernetes.io/part-of: midaz
{{- end -}}

{{- define "midaz.imageTag" -}}
{{- .Values.image.tag | default .Chart.AppVersion | toString -}}
{{- end -}}

{{- define "midaz.image" -}}
{{- printf "%s:%s" .Values.image.repository (include "midaz.imageTag" .) -}}
{{- end -}}

{{- define "midaz.serviceAccountName" -}}
{{- if .Values.serviceAccount.create -}}
{{- default (include "midaz.fullname" .) .Values.serviceAccount.name -}}
{{- else -}}
{{- default "default" .Values.serviceAccount.name -}}
{{- end -}}
{{- end -}}

{{/* The Secret the ledger reads its credentials from. */}}
{{- define "midaz.secretName" -}}
{{- .Values.existingSecret | default (include "midaz.fullname" .) -}}
{{- end -}}

{{/* Services ----------------------------------------------------------------------------------- */}}

{{- define "midaz.servicesSecretName" -}}
{{- include "midaz.componentName" (dict "ctx" . "suffix" "services") -}}
{{- end -}}

{{- define "midaz.postgresql.host" -}}
{{- include "midaz.componentName" (dict "ctx" . "suffix" "postgresql") -}}
{{- end -}}

{{- define "midaz.postgresql.replicaHost" -}}
{{- include "midaz.componentName" (dict "ctx" . "suffix" "postgresql-replica") -}}
{{- end -}}

{{- define "midaz.valkey.host" -}}
{{- include "midaz.componentName" (dict "ctx" . "suffix" "valkey") -}}
{{- end -}}

{{- define "midaz.rabbitmq.host" -}}
{{- include "midaz.componentName" (dict "ctx" . "suffix" "rabbitmq") -}}
{{- end -}}

{{- define "midaz.mongodb.host" -}}
{{- include "midaz.componentName" (dict "ctx" . "suffix" "mongodb") -}}
{{- end -}}

{{/* "true" when the ledger has a message broker (the worker and beat need one). An existing
Secret is trusted to hold CELERY_BROKER_URL. */}}
{{- define "midaz.brokerConfigured" -}}
{{- if or .Values.rabbitmq.enabled .Values.externalServices.brokerUrl .Values.existingSecret -}}true{{- end -}}
{{- end -}}

{{- define "midaz.databaseUrl" -}}
{{- if .Values.postgresql.enabled -}}
{{- $a := .Values.postgresql.auth -}}
{{- printf "postgres://%s:%s@%s:5432/%s" $a.username (required "postgresql.auth.password is required when postgresql.enabled" $a.password | urlquery) (include "midaz.postgresql.host" .) $a.database -}}
{{- else -}}
{{- required "externalServices.databaseUrl is required (or set existingSecret, or postgresql.enabled=true)" .Values.externalServices.databaseUrl -}}
{{- end -}}
{{- end -}}

{{- define "midaz.databaseReplicaUrl" -}}
{{- if and .Values.postgresql.enabled .Values.postgresql.replica.enabled -}}
{{- $a := .Values.postgresql.auth -}}
{{- printf "postgres://%s:%s@%s:5432/%s" $a.username ($a.password | urlquery) (include "midaz.postgresql.replicaHost" .) $a.database -}}
{{- else if not .Values.postgresql.enabled -}}
{{- .Values.externalServices.databaseReplicaUrl -}}
{{- end -}}
{{- end -}}

{{- define "midaz.valkeyUrl" -}}
{{- if .Values.valkey.enabled -}}
{{- printf "redis://:%s@%s:6379/0" (required "valkey.auth.password is required when valkey.enabled" .Values.valkey.auth.password | urlquery) (include "midaz.valkey.host" .) -}}
{{- else -}}
{{- .Values.externalServices.valkeyUrl -}}
{{- end -}}
{{- end -}}

{{- define "midaz.brokerUrl" -}}
{{- if .Values.rabbitmq.enabled -}}
{{- $a := .Values.rabbitmq.auth -}}
{{- printf "amqp://%s:%s@%s:5672//" $a.username (required "rabbitmq.auth.password is required when rabbitmq.enabled" $a.password | urlquery) (include "midaz.rabbitmq.host" .) -}}
{{- else -}}
{{- .Values.externalServices.brokerUrl -}}
{{- end -}}
{{- end -}}

{{- define "midaz.mongoUrl" -}}
{{- if .Values.mongodb.enabled -}}
{{- $a := .Values.mongodb.auth -}}
{{- printf "mongodb://%s:%s@%s:27017/%s?authSource=admin" $a.rootUsername (required "mongodb.auth.rootPassword is required when mongodb.enabled" $a.rootPassword | urlquery) (include "midaz.mongodb.host" .) .Values.mongodb.database -}}
{{- else -}}
{{- .Values.externalServices.mongoUrl -}}
{{- end -}}
{{- end -}}

{{/* Settings ----------------------------------------------------------------------------------- */}}

{{/* A config value as the string an environment variable carries (whole numbers without an
exponent: values arrive as float64). */}}
{{- define "midaz.envString" -}}
{{- $v := . -}}
{{- if and (kindIs "float64" $v) (eq $v (float64 (int64 $v))) -}}
{{- int64 $v -}}
{{- else -}}
{{- toString $v -}}
{{- end -}}
{{- end -}}

{{- define "midaz.allowedHosts" -}}
{{- $full := include "midaz.fullname" . -}}
{{- $ns := .Release.Namespace -}}
{{- $hosts := list "localhost" "127.0.0.1" $full (printf "%s.%s" $full $ns) (printf "%s.%s.svc" $full $ns) (printf "%s.%s.svc.cluster.local" $full $ns) -}}
{{- if .Values.ingress.enabled -}}
{{- range .Values.ingress.hosts -}}
{{- if .host -}}{{- $hosts = append $hosts .host -}}{{- end -}}
{{- end -}}
{{- end -}}
{{- $hosts | uniq | join "," -}}
{{- end -}}

{{/* The ConfigMap's data: every non-secret setting, "" on an auto key replaced by its value. */}}
{{- define "midaz.configData" -}}
{{- $c := .Values.config -}}
{{- $auto := dict
  "ALLOWED_HOSTS" (include "midaz.allowedHosts" .)
  "VERSION" (include "midaz.imageTag" .)
  "SECURE_SSL_REDIRECT" (ternary "true" "false" (and .Values.ingress.enabled (gt (len .Values.ingress.tls) 0)))
  "SECURE_PROXY_SSL_HEADER" (ternary "true" "false" (eq (toString .Values.ingress.enabled) "true"))
  "RABBITMQ_TRANSACTION_EVENTS_ENABLED" (ternary "true" "false" (eq (include "midaz.brokerConfigured" .) "true"))
-}}
{{- range $key := keys $c | sortAlpha }}
{{- $value := get $c $key }}
{{- if and (kindIs "string" $value) (eq $value "") (hasKey $auto $key) }}
{{- $value = get $auto $key }}
{{- end }}
{{ $key }}: {{ include "midaz.envString" $value | quote }}
{{- end }}
PLUGIN_AUTH_ENABLED: {{ include "midaz.envString" $c.AUTH_ENABLED | quote }}
{{- end -}}

{{/* The chart's Secret's data (unless existingSecret): every credential the ledger reads. */}}
{{- define "midaz.secretData" -}}
SECRET_KEY: {{ required "secretKey is required (or set existingSecret)" .Values.secretKey | b64enc | quote }}
DATABASE_URL: {{ include "midaz.databaseUrl" . | b64enc | quote }}
DATABASE_REPLICA_URL: {{ include "midaz.databaseReplicaUrl" . | b64enc | quote }}
VALKEY_URL: {{ include "midaz.valkeyUrl" . | b64enc | quote }}
# Read only when VALKEY_URL is empty (its older name).
REDIS_URL: {{ "" | b64enc | quote }}
CELERY_BROKER_URL: {{ include "midaz.brokerUrl" . | b64enc | quote }}
MONGO_URL: {{ include "midaz.mongoUrl" . | b64enc | quote }}
{{- end -}}

{{/* Refuse combinations that cannot work, with a message that says what to set. */}}
{{- define "midaz.validate" -}}
{{- $c := .Values.config -}}
{{- if not .Values.existingSecret -}}
{{- if and (eq (toString $c.METADATA_BACKEND) "mongodb") (not (include "midaz.mongoUrl" .)) -}}
{{- fail "config.METADATA_BACKEND=mongodb needs externalServices.mongoUrl or mongodb.enabled=true" -}}
{{- end -}}
{{- if and (eq (toString $c.TRANSACTION_ASYNC) "true") (not (include "midaz.brokerConfigured" .)) -}}
{{- fail "config.TRANSACTION_ASYNC=true needs a broker: externalServices.brokerUrl or rabbitmq.enabled=true" -}}
{{- end -}}
{{- end -}}
{{- if and .Values.postgresql.enabled .Values.postgresql.replica.enabled (not .Values.postgresql.auth.replicationPassword) -}}
{{- fail "postgresql.auth.replicationPassword is required when postgresql.replica.enabled" -}}
{{- end -}}
{{- end -}}

{{/* Pods ------------------------------------------------------------------------------------- */}}

{{/* Annotations that roll the pods when the settings or the credentials change. */}}
{{- define "midaz.checksums" -}}
checksum/config: {{ include "midaz.configData" . | sha256sum }}
{{- if .Values.existingSecret }}
checksum/secret: {{ printf "existingSecret:%s" .Values.existingSecret | sha256sum }}
{{- else }}
checksum/secret: {{ include "midaz.secretData" . | sha256sum }}
{{- end }}
{{- end -}}

{{/* "true" when the ledger serves metrics and the pods are to be annotated for Prometheus. */}}
{{- define "midaz.scrapeAnnotated" -}}
{{- if and .Values.metrics.podAnnotations (eq (toString .Values.config.METRICS_ENABLED) "true") -}}true{{- end -}}
{{- end -}}

{{/* Prometheus's scrape annotations: (dict "port" port) */}}
{{- define "midaz.scrapeAnnotations" -}}
prometheus.io/scrape: "true"
prometheus.io/port: {{ .port | quote }}
prometheus.io/path: /metrics
{{- end -}}

{{/* envFrom + env of every ledger container: (dict "ctx" $ "configMap" name "secret" name) */}}
{{- define "midaz.appEnv" -}}
envFrom:
  - configMapRef:
      name: {{ .configMap }}
  - secretRef:
      name: {{ .secret }}
{{- with .ctx.Values.extraEnv }}
env:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- end -}}

{{- define "midaz.tmpVolume" -}}
- name: tmp
  emptyDir:
    sizeLimit: {{ .Values.tmpSizeLimit }}
{{- end -}}

{{/* The init container: (dict "ctx" $ "migrations" true|false "configMap" name "secret" name) */}}
{{- define "midaz.waitForDatabase" -}}
- name: wait-for-database
  image: {{ include "midaz.image" .ctx }}
  imagePullPolicy: {{ .ctx.Values.image.pullPolicy }}
  args:
    - wait-for-db
    - --timeout
    - {{ .ctx.Values.waitForDatabase.timeoutSeconds | quote }}
    {{- if .migrations }}
    - --migrations
    {{- end }}
  {{- include "midaz.appEnv" . | nindent 2 }}
  securityContext:
    {{- toYaml .ctx.Values.securityContext | nindent 4 }}
  resources:
    {{- toYaml .ctx.Values.waitForDatabase.resources | nindent 4 }}
  volumeMounts:
    - name: tmp
      mountPath: /tmp
{{- end -}}

{{/* The phases of the migrations hook: the in-cluster PostgreSQL exists only after install. */}}
{{- define "midaz.migrationsHook" -}}
{{- if .Values.postgresql.enabled -}}post-install,pre-upgrade{{- else -}}pre-install,pre-upgrade{{- end -}}
{{- end -}}
