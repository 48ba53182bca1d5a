"""The resource types the stand-in serves, and the discovery and OpenAPI
documents derived from them.

One table drives everything: routing, storage keys, discovery, OpenAPI and
which patch types are allowed. A resource served in several versions (the SMI
TrafficSplit CRD serves v1alpha1 and v1alpha2 with `conversion: None`) shares
one storage bucket, keyed by (group, plural); only apiVersion changes on read.
"""
import hashlib
import json

ALL_VERBS = ["create", "delete", "deletecollection", "get", "list", "patch", "update", "watch"]
CREATE_ONLY = ["create"]

# Served in discovery as a version string (kubectl only checks that it parses).
VERSION_INFO = {
    "major": "1", "minor": "32", "gitVersion": "v1.32.4-cmesh-standin",
    "gitCommit": "0000000000000000000000000000000000000000", "gitTreeState": "clean",
    "buildDate": "2025-01-01T00:00:00Z", "goVersion": "go1.23 (stand-in: python3)",
    "compiler": "gc", "platform": "linux/amd64",
}


class ResourceType:
    def __init__(self, group, version, plural, kind, namespaced, short=(), verbs=ALL_VERBS,
                 crd=False, subresources=(), categories=()):
        self.group = group
        self.version = version
        self.plural = plural
        self.kind = kind
        self.singular = kind.lower()
        self.namespaced = namespaced
        self.short = list(short)
        self.verbs = list(verbs)
        # CRDs have no Go struct tags, so the real server answers 415 to
        # strategic merge patches on them; we mirror that.
        self.crd = crd
        self.subresources = list(subresources)
        self.categories = list(categories)

    @property
    def group_version(self):
        return "%s/%s" % (self.group, self.version) if self.group else self.version

    @property
    def storage_key(self):
        return (self.group, self.plural)

    def qualified(self):
        """Name used in messages: `pods`, `deployments.apps`."""
        return "%s.%s" % (self.plural, self.group) if self.group else self.plural

    def list_kind(self):
        return self.kind + "List"

    def __repr__(self):
        return "<ResourceType %s %s>" % (self.group_version, self.plural)


def _core(plural, kind, namespaced, short=(), **kw):
    return ResourceType("", "v1", plural, kind, namespaced, short, **kw)


RESOURCES = [
    _core("namespaces", "Namespace", False, ["ns"], subresources=["status"]),
    _core("pods", "Pod", True, ["po"], subresources=["status"], categories=["all"]),
    _core("services", "Service", True, ["svc"], subresources=["status"], categories=["all"]),
    _core("serviceaccounts", "ServiceAccount", True, ["sa"], subresources=["token"]),
    _core("endpoints", "Endpoints", True, ["ep"]),
    _core("configmaps", "ConfigMap", True, ["cm"]),
    _core("secrets", "Secret", True),
    _core("events", "Event", True, ["ev"]),
    _core("nodes", "Node", False, ["no"], subresources=["status"]),
    ResourceType("discovery.k8s.io", "v1", "endpointslices", "EndpointSlice", True),
    ResourceType("apps", "v1", "deployments", "Deployment", True, ["deploy"],
                 subresources=["status"], categories=["all"]),
    ResourceType("apps", "v1", "replicasets", "ReplicaSet", True, ["rs"],
                 subresources=["status"], categories=["all"]),
    ResourceType("apps", "v1", "daemonsets", "DaemonSet", True, ["ds"],
                 subresources=["status"], categories=["all"]),
    ResourceType("apps", "v1", "statefulsets", "StatefulSet", True, ["sts"],
                 subresources=["status"], categories=["all"]),
    ResourceType("batch", "v1", "jobs", "Job", True, subresources=["status"],
                 categories=["all"]),
    ResourceType("batch", "v1", "cronjobs", "CronJob", True, ["cj"], subresources=["status"],
                 categories=["all"]),
    ResourceType("coordination.k8s.io", "v1", "leases", "Lease", True),
    ResourceType("authentication.k8s.io", "v1", "tokenreviews", "TokenReview", False,
                 verbs=CREATE_ONLY),
    ResourceType("admissionregistration.k8s.io", "v1", "mutatingwebhookconfigurations",
                 "MutatingWebhookConfiguration", False),
    ResourceType("admissionregistration.k8s.io", "v1", "validatingwebhookconfigurations",
                 "ValidatingWebhookConfiguration", False),
    ResourceType("rbac.authorization.k8s.io", "v1", "roles", "Role", True),
    ResourceType("rbac.authorization.k8s.io", "v1", "rolebindings", "RoleBinding", True),
    ResourceType("rbac.authorization.k8s.io", "v1", "clusterroles", "ClusterRole", False),
    ResourceType("rbac.authorization.k8s.io", "v1", "clusterrolebindings",
                 "ClusterRoleBinding", False),
    ResourceType("policy", "v1", "poddisruptionbudgets", "PodDisruptionBudget", True, ["pdb"]),
    # Custom resources (kubernetes-api.md §10). Order of versions inside a
    # group: the last one listed is the preferred version.
    ResourceType("split.smi-spec.io", "v1alpha1", "trafficsplits", "TrafficSplit", True,
                 ["ts"], crd=True),
    ResourceType("split.smi-spec.io", "v1alpha2", "trafficsplits", "TrafficSplit", True,
                 ["ts"], crd=True),
    ResourceType("linkerd.io", "v1alpha1", "serviceprofiles", "ServiceProfile", True,
                 ["sp"], crd=True),
    ResourceType("linkerd.io", "v1alpha2", "serviceprofiles", "ServiceProfile", True,
                 ["sp"], crd=True),
]

_BY_GVR = {(r.group, r.version, r.plural): r for r in RESOURCES}


def lookup(group, version, plural):
    return _BY_GVR.get((group, version, plural))


def group_versions():
    """Ordered {group: [versions]} with the core group under ""."""
    out = {}
    for r in RESOURCES:
        vs = out.setdefault(r.group, [])
        if r.version not in vs:
            vs.append(r.version)
    return out


def known_group_version(group, version):
    return version in group_versions().get(group, [])


def by_kind(api_version, kind):
    """The ResourceType for an object's apiVersion/kind (used by --objects)."""
    group, _, version = api_version.rpartition("/")
    for r in RESOURCES:
        if r.group == group and r.version == version and r.kind == kind:
            return r
    return None


def preferred(group, plural):
    """The preferred-version ResourceType of a storage bucket."""
    found = None
    for r in RESOURCES:
        if r.group == group and r.plural == plural:
            found = r
    return found


# ---- discovery documents (legacy format; kubectl accepts them, §5.2) ----

def api_versions(server_address):
    return {"kind": "APIVersions", "versions": ["v1"],
            "serverAddressByClientCIDRs": [{"clientCIDR": "0.0.0.0/0",
                                            "serverAddress": server_address}]}


def api_group_list():
    groups = []
    for g, versions in group_versions().items():
        if not g:
            continue
        pref = versions[-1]
        groups.append({"name": g,
                       "versions": [{"groupVersion": "%s/%s" % (g, v), "version": v}
                                    for v in reversed(versions)],
                       "preferredVersion": {"groupVersion": "%s/%s" % (g, pref),
                                            "version": pref}})
    return {"kind": "APIGroupList", "apiVersion": "v1", "groups": groups}


def api_group(group):
    return next((g for g in api_group_list()["groups"] if g["name"] == group), None)


def api_resource_list(group, version):
    gv = "%s/%s" % (group, version) if group else version
    resources = []
    for r in RESOURCES:
        if r.group != group or r.version != version:
            continue
        entry = {"name": r.plural, "singularName": r.singular, "namespaced": r.namespaced,
                 "kind": r.kind, "verbs": r.verbs}
        if r.short:
            entry["shortNames"] = r.short
        if r.categories:
            entry["categories"] = r.categories
        resources.append(entry)
        for sub in r.subresources:
            if sub == "token":
                resources.append({"name": r.plural + "/token", "singularName": "",
                                  "namespaced": True, "group": "authentication.k8s.io",
                                  "version": "v1", "kind": "TokenRequest",
                                  "verbs": ["create"]})
            else:
                resources.append({"name": "%s/%s" % (r.plural, sub), "singularName": "",
                                  "namespaced": r.namespaced, "kind": r.kind,
                                  "verbs": ["get", "patch", "update"]})
    return {"kind": "APIResourceList", "apiVersion": "v1", "groupVersion": gv,
            "resources": resources}


# ---- minimal OpenAPI v3 (§5.2) ----
# kubectl's field-validation probe only needs, per kind, a `patch` operation
# tagged with x-kubernetes-group-version-kind and a fieldValidation query
# parameter. We leave out requestBody on purpose: kubectl then computes
# strategic merge patches from its compiled-in Go types, which is what it does
# against servers without schemas.

def _gv_path(group, version):
    return "apis/%s/%s" % (group, version) if group else "api/%s" % version


def openapi_gv_doc(group, version):
    paths = {}
    for r in RESOURCES:
        if r.group != group or r.version != version or "patch" not in r.verbs:
            continue
        prefix = "/" + _gv_path(group, version)
        if r.namespaced:
            p = "%s/namespaces/{namespace}/%s/{name}" % (prefix, r.plural)
        else:
            p = "%s/%s/{name}" % (prefix, r.plural)
        paths[p] = {"patch": {
            "operationId": "patch" + r.kind,
            "x-kubernetes-action": "patch",
            "x-kubernetes-group-version-kind": {"group": group, "version": version,
                                                "kind": r.kind},
            "parameters": [{"name": "fieldValidation", "in": "query",
                            "schema": {"type": "string", "uniqueItems": True}}],
            "responses": {"200": {"description": "OK"}}}}
    return {"openapi": "3.0.0", "info": {"title": "cmesh stand-in", "version": "v1.32"},
            "paths": paths, "components": {"schemas": {}}}


def openapi_hash(group, version):
    body = json.dumps(openapi_gv_doc(group, version), sort_keys=True).encode()
    return hashlib.sha256(body).hexdigest()[:32].upper()


def openapi_root():
    paths = {}
    for g, versions in group_versions().items():
        for v in versions:
            p = _gv_path(g, v)
            paths[p] = {"serverRelativeURL": "/openapi/v3/%s?hash=%s" % (p, openapi_hash(g, v))}
    return {"paths": paths}


def openapi_gv_from_path(rest):
    """'api/v1' or 'apis/G/V' -> (group, version) or None."""
    parts = rest.strip("/").split("/")
    if len(parts) == 2 and parts[0] == "api":
        g, v = "", parts[1]
    elif len(parts) == 3 and parts[0] == "apis":
        g, v = parts[1], parts[2]
    else:
        return None
    return (g, v) if known_group_version(g, v) else None
