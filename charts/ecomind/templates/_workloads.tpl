{{/*
What differs between the four services: port, health path and environment
(../shared/ecomind-app.md). Everything else is in "ecomind.deployment".
*/}}
{{- define "ecomind.port" -}}
{{- get (dict "gateway" 8080 "api" 8000 "ui" 3000 "worker" 0) .component -}}
{{- end -}}

{{- define "ecomind.healthPath" -}}
{{- get (dict "gateway" "/health" "api" "/health" "ui" "/" "worker" "") .component -}}
{{- end -}}

{{- define "ecomind.secretEnv" -}}
- name: {{ .name }}
  valueFrom:
    secretKeyRef:
      name: {{ include "ecomind.secretName" (dict "root" .root "secret" .secret) }}
      key: {{ .key }}
{{- end -}}

{{- /* The services' database connection: with an IAM-auth role, a URL without a password (the
service mints a 15-minute token per connection, RDS user guide "IAM database authentication");
otherwise the database secret's credentials. */ -}}
{{- define "ecomind.databaseEnv" -}}
{{- $db := .root.Values.database -}}
{{- if $db.iamAuthUser -}}
- name: DATABASE_URL
  value: {{ printf "postgresql://%s@%s:%v/%s?sslmode=verify-full" $db.iamAuthUser (required "database.host is required" $db.host) $db.port $db.name | quote }}
- name: DATABASE_IAM_AUTH
  value: "true"
{{- else -}}
{{ include "ecomind.secretEnv" (dict "root" .root "name" "DATABASE_URL" "secret" "database" "key" "DATABASE_URL") }}
{{- end -}}
{{- end -}}

{{- define "ecomind.env.gateway" -}}
- name: PORT
  value: "8080"
- name: KAFKA_BROKERS
  value: {{ required "kafka.bootstrapBrokers is required" .root.Values.kafka.bootstrapBrokers | quote }}
- name: REDIS_ADDR
  value: {{ printf "%s:%v" (required "cache.host is required" .root.Values.cache.host) .root.Values.cache.port | quote }}
{{ include "ecomind.secretEnv" (dict "root" .root "name" "REDIS_PASSWORD" "secret" "cache" "key" "REDIS_PASSWORD") }}
{{ include "ecomind.secretEnv" (dict "root" .root "name" "GATEWAY_HMAC_SECRET" "secret" "gateway-hmac" "key" "GATEWAY_HMAC_SECRET") }}
{{ include "ecomind.secretEnv" (dict "root" .root "name" "GATEWAY_HMAC_SECRET_PREVIOUS" "secret" "gateway-hmac" "key" "GATEWAY_HMAC_SECRET_PREVIOUS") }}
{{- end -}}

{{- define "ecomind.env.api" -}}
{{ include "ecomind.databaseEnv" . }}
{{ include "ecomind.secretEnv" (dict "root" .root "name" "REDIS_URL" "secret" "cache" "key" "REDIS_URL") }}
{{ include "ecomind.secretEnv" (dict "root" .root "name" "JWT_SECRET" "secret" "jwt" "key" "JWT_SECRET") }}
{{ include "ecomind.secretEnv" (dict "root" .root "name" "JWT_SECRET_PREVIOUS" "secret" "jwt" "key" "JWT_SECRET_PREVIOUS") }}
- name: ACCESS_TOKEN_EXPIRE_MINUTES
  value: {{ .root.Values.api.accessTokenExpireMinutes | quote }}
- name: UVICORN_TIMEOUT_KEEP_ALIVE
  value: {{ .root.Values.http.keepAliveSeconds | quote }}
- name: REPORTS_BUCKET
  value: {{ required "storage.reportsBucket is required" .root.Values.storage.reportsBucket | quote }}
- name: AWS_REGION
  value: {{ .root.Values.aws.region | quote }}
{{- end -}}

{{- define "ecomind.env.worker" -}}
- name: KAFKA_BROKERS
  value: {{ required "kafka.bootstrapBrokers is required" .root.Values.kafka.bootstrapBrokers | quote }}
{{ include "ecomind.databaseEnv" . }}
- name: REPORTS_BUCKET
  value: {{ .root.Values.storage.reportsBucket | quote }}
- name: AWS_REGION
  value: {{ .root.Values.aws.region | quote }}
{{- end -}}

{{- define "ecomind.env.ui" -}}
- name: PORT
  value: "3000"
- name: HOSTNAME
  value: "0.0.0.0"
- name: NEXT_PUBLIC_API_URL
  value: {{ .root.Values.ui.apiUrl | quote }}
- name: KEEP_ALIVE_TIMEOUT
  value: {{ mul .root.Values.http.keepAliveSeconds 1000 | quote }}
{{- end -}}

{{- /* The Secrets a service reads, from its own env: what Reloader must restart it for. */ -}}
{{- define "ecomind.secretsRead" -}}
{{- $names := list -}}
{{- range $env := include (printf "ecomind.env.%s" .component) . | fromYamlArray -}}
{{- with $env.valueFrom }}{{ with .secretKeyRef }}{{ $names = append $names .name }}{{ end }}{{ end -}}
{{- end -}}
{{- $names | uniq | sortAlpha | join "," -}}
{{- end -}}

{{- define "ecomind.deployment" -}}
{{- $values := index .root.Values.services .component -}}
{{- $secrets := include "ecomind.secretsRead" . -}}
{{- $port := include "ecomind.port" . | int -}}
{{- $health := include "ecomind.healthPath" . -}}
apiVersion: apps/v1
kind: Deployment
metadata:
  name: {{ include "ecomind.name" . }}
  namespace: {{ .root.Release.Namespace }}
  labels:
    {{- include "ecomind.labels" . | nindent 4 }}
  annotations:
    {{- include "ecomind.checkovSkips" . | nindent 4 }}
    {{- if $secrets }}
    # Services read their secrets once, at start: a rotated value restarts them (Reloader).
    secret.reloader.stakater.com/reload: {{ $secrets | quote }}
    {{- end }}
    {{- if not $health }}
    checkov.io/skip4: CKV_K8S_8=The worker serves no HTTP endpoint (ecomind-app.md); Kubernetes restarts it when its process exits
    checkov.io/skip5: CKV_K8S_9=The worker has no readiness signal; it receives no traffic, it consumes from Kafka
    {{- end }}
spec:
  {{- if not (and $values.autoscaling $values.autoscaling.enabled) }}
  replicas: {{ $values.replicas }}
  {{- end }}
  revisionHistoryLimit: 5
  selector:
    matchLabels:
      {{- include "ecomind.selectorLabels" . | nindent 6 }}
  strategy:
    type: RollingUpdate
    rollingUpdate:
      maxUnavailable: 0
      maxSurge: {{ .root.Values.rollout.maxSurge }}
  template:
    metadata:
      labels:
        {{- include "ecomind.labels" . | nindent 8 }}
      annotations:
        # Cluster Autoscaler removes no node whose pods use local storage unless each such volume is
        # named here (kubernetes/autoscaler cluster-autoscaler-1.36.1 utils/drain/drain.go; the flag
        # skip-nodes-with-local-storage defaults to true): /tmp and the UI's cache are scratch.
        cluster-autoscaler.kubernetes.io/safe-to-evict-local-volumes: {{ ternary "tmp,next-cache" "tmp" (eq .component "ui") | quote }}
    spec:
      serviceAccountName: {{ include "ecomind.name" . }}
      # IRSA's token is projected by the EKS pod identity webhook; the Kubernetes API token is not needed.
      automountServiceAccountToken: false
      securityContext:
        {{- include "ecomind.podSecurityContext" . | nindent 8 }}
      topologySpreadConstraints:
        {{- include "ecomind.topologySpread" . | nindent 8 }}
      {{- $rollout := .root.Values.rollout }}
      {{- if $port }}
      terminationGracePeriodSeconds: {{ add $rollout.preStopSleepSeconds $rollout.appDrainSeconds 5 }}
      {{- else }}
      terminationGracePeriodSeconds: 30
      {{- end }}
      containers:
        - name: {{ .component }}
          image: {{ include "ecomind.image" . }}
          imagePullPolicy: {{ .root.Values.image.pullPolicy }}
          securityContext:
            {{- include "ecomind.containerSecurityContext" . | nindent 12 }}
          env:
            {{- include (printf "ecomind.env.%s" .component) . | nindent 12 }}
          {{- if $port }}
          ports:
            - name: http
              containerPort: {{ $port }}
              protocol: TCP
          readinessProbe:
            httpGet: {path: {{ $health }}, port: http}
            periodSeconds: 10
            timeoutSeconds: 3
            failureThreshold: 3
          livenessProbe:
            httpGet: {path: {{ $health }}, port: http}
            initialDelaySeconds: 15
            periodSeconds: 20
            timeoutSeconds: 3
            failureThreshold: 3
          lifecycle:
            # Kubernetes' own sleep action (no shell in the image needed): the pod keeps serving
            # while the ALB deregisters it and drains its connections.
            preStop:
              sleep:
                seconds: {{ $rollout.preStopSleepSeconds }}
          {{- else }}
          # A consumer stuck in a poll loop is restarted: the worker touches its heartbeat file
          # on every poll (application contract).
          livenessProbe:
            exec:
              command: ["python", "-c", {{ printf "import os,sys,time; sys.exit(time.time() - os.path.getmtime(%q) > %v)" .root.Values.worker.heartbeatFile .root.Values.worker.maxSilenceSeconds | quote }}]
            initialDelaySeconds: 60
            periodSeconds: 30
            timeoutSeconds: 5
            failureThreshold: 2
          {{- end }}
          resources:
            {{- toYaml $values.resources | nindent 12 }}
          volumeMounts:
            - name: tmp
              mountPath: /tmp
            {{- if eq .component "ui" }}
            - name: next-cache
              mountPath: /app/.next/cache
            {{- end }}
      volumes:
        # The root filesystem is read-only; these are the only writable paths.
        - name: tmp
          emptyDir:
            sizeLimit: 256Mi
        {{- if eq .component "ui" }}
        - name: next-cache
          emptyDir:
            sizeLimit: 512Mi
        {{- end }}
{{- end -}}
