{{- /*
  Shared pieces of the control-plane templates: names, labels, image, security
  contexts, resources and value checks. Each component template (identity,
  destination, proxy-injector) includes these and holds nothing shared itself.
*/ -}}

{{- /*
  Names the injected proxies dial and verify. cmesh-webhook writes them into
  every proxy's environment as Linkerd does (webhook/inject.c:
  LINKERD2_PROXY_DESTINATION_SVC_ADDR = cmesh-dst-headless.<ns>.svc.<domain>.:8086,
  LINKERD2_PROXY_IDENTITY_SVC_ADDR = cmesh-identity-headless.<ns>.svc.<domain>.:8080,
  LINKERD2_PROXY_IDENTITY_SVC_NAME = cmesh-identity.<ns>.serviceaccount.identity.<ns>.<td>),
  so the Services carry these names; test/charts checks them against the
  injector's output.
*/ -}}
{{- define "cmesh.dstService" -}}cmesh-dst{{- end -}}
{{- define "cmesh.dstHeadlessService" -}}cmesh-dst-headless{{- end -}}
{{- define "cmesh.identityService" -}}cmesh-identity{{- end -}}
{{- define "cmesh.identityHeadlessService" -}}cmesh-identity-headless{{- end -}}
{{- /* First label of the identity's own name, which proxies verify. */ -}}
{{- define "cmesh.identityServerName" -}}cmesh-identity{{- end -}}

{{- define "cmesh.trustDomain" -}}
{{- .Values.identityTrustDomain | default .Values.clusterDomain -}}
{{- end -}}

{{- define "cmesh.version" -}}
{{- .Values.linkerdVersion | default .Chart.AppVersion -}}
{{- end -}}

{{- define "cmesh.controllerImage" -}}
{{- printf "%s:%s" .Values.controllerImage (.Values.controllerImageVersion | default (include "cmesh.version" .)) -}}
{{- end -}}

{{- /* Path of a control-plane program inside controllerImage. */ -}}
{{- define "cmesh.controllerBin" -}}/usr/bin/{{ . }}{{- end -}}

{{- /* Cluster-scoped objects are per release namespace, as Linkerd's are. */ -}}
{{- define "cmesh.clusterName" -}}
{{- printf "cmesh-%s-%s" .root.Release.Namespace .component -}}
{{- end -}}

{{- /* Labels of every object; call with (dict "root" $ "component" "identity"). */ -}}
{{- define "cmesh.labels" -}}
linkerd.io/control-plane-component: {{ .component }}
linkerd.io/control-plane-ns: {{ .root.Release.Namespace }}
app.kubernetes.io/name: {{ .component }}
app.kubernetes.io/part-of: cmesh
app.kubernetes.io/version: {{ include "cmesh.version" .root | quote }}
app.kubernetes.io/managed-by: {{ .root.Release.Service }}
helm.sh/chart: {{ printf "%s-%s" .root.Chart.Name .root.Chart.Version | replace "+" "_" }}
{{- end -}}

{{- /* The labels a component's Services and Deployment select on. The
  injector's objectSelector skips pods carrying the first one. */ -}}
{{- define "cmesh.selectorLabels" -}}
linkerd.io/control-plane-component: {{ .component }}
linkerd.io/control-plane-ns: {{ .root.Release.Namespace }}
{{- end -}}

{{- define "cmesh.podSecurityContext" -}}
runAsNonRoot: true
runAsUser: {{ .Values.controllerUID }}
{{- if ge (int .Values.controllerGID) 0 }}
runAsGroup: {{ .Values.controllerGID }}
fsGroup: {{ .Values.controllerGID }}
{{- end }}
seccompProfile:
  type: RuntimeDefault
{{- end -}}

{{- define "cmesh.containerSecurityContext" -}}
allowPrivilegeEscalation: false
readOnlyRootFilesystem: true
runAsNonRoot: true
runAsUser: {{ .Values.controllerUID }}
capabilities:
  drop: ["ALL"]
{{- end -}}

{{- /* resources: from a {cpu,memory,ephemeral-storage}.{request,limit} map;
  empty strings are left out. */ -}}
{{- define "cmesh.resources" -}}
{{- $requests := dict -}}
{{- $limits := dict -}}
{{- range $name := list "cpu" "memory" "ephemeral-storage" -}}
{{- $r := index $ $name | default dict -}}
{{- if $r.request }}{{ $_ := set $requests $name (toString $r.request) }}{{ end -}}
{{- if $r.limit }}{{ $_ := set $limits $name (toString $r.limit) }}{{ end -}}
{{- end -}}
{{- if $requests }}
requests:
{{- toYaml $requests | nindent 2 }}
{{- end }}
{{- if $limits }}
limits:
{{- toYaml $limits | nindent 2 }}
{{- end }}
{{- end -}}

{{- /* The pod-level settings every control-plane pod shares. */ -}}
{{- define "cmesh.podCommon" -}}
{{- with .Values.nodeSelector }}
nodeSelector:
{{- toYaml . | nindent 2 }}
{{- end }}
{{- with .Values.tolerations }}
tolerations:
{{- toYaml . | nindent 2 }}
{{- end }}
{{- with .Values.priorityClassName }}
priorityClassName: {{ . }}
{{- end }}
securityContext:
{{- include "cmesh.podSecurityContext" . | nindent 2 }}
{{- end -}}

{{- define "cmesh.podLabels" -}}
{{- include "cmesh.selectorLabels" . }}
{{- with .root.Values.podLabels }}
{{ toYaml . }}
{{- end }}
{{- end -}}

{{- /* Admin-server probes on the named port admin-http. */ -}}
{{- define "cmesh.probes" -}}
livenessProbe:
  httpGet:
    path: /live
    port: admin-http
  initialDelaySeconds: 10
readinessProbe:
  httpGet:
    path: /ready
    port: admin-http
  failureThreshold: 7
{{- end -}}

{{- /* Value checks done once, by every component template (Helm renders
  all templates, so one failure message is enough, but each template must
  not render half-configured objects on its own either). */ -}}
{{- define "cmesh.validate" -}}
{{- if not .Values.identity.externalCA -}}
{{- $pem := required "identityTrustAnchorsPEM (PEM of the trust anchors, e.g. --set-file identityTrustAnchorsPEM=ca-bundle.crt from `cmesh certs generate`) is required" .Values.identityTrustAnchorsPEM -}}
{{- if not (contains "-----BEGIN CERTIFICATE-----" $pem) -}}
{{- fail "identityTrustAnchorsPEM must hold PEM certificates (-----BEGIN CERTIFICATE-----)" -}}
{{- end -}}
{{- end -}}
{{- $scheme := .Values.identity.issuer.scheme -}}
{{- if not (has $scheme (list "linkerd.io/tls" "kubernetes.io/tls")) -}}
{{- fail (printf "identity.issuer.scheme must be linkerd.io/tls or kubernetes.io/tls, not %q" $scheme) -}}
{{- end -}}
{{- if lt (int .Values.controllerReplicas) 1 -}}
{{- fail "controllerReplicas must be at least 1" -}}
{{- end -}}
{{- end -}}
