"""Reference checks for an injected pod, independent of the injector's code.

Each fact comes from linkerd.md §4.4-4.7 (Linkerd's injected shape), with our
programs in place of Linkerd's: linkerd-proxy runs cmesh-proxy and
linkerd-init runs cmesh-proxy-init, from the proxy image.
"""
import hashlib
import os

HERE = os.path.dirname(os.path.abspath(__file__))
ANCHORS = open(os.path.join(HERE, "anchors.pem")).read()
ANCHORS_SHA = hashlib.sha256(ANCHORS.encode()).hexdigest()

REQUIRED_ENV = [
    "_pod_ns", "_pod_name", "_pod_sa", "LINKERD2_PROXY_LOG", "LINKERD2_PROXY_LOG_FORMAT",
    "LINKERD2_PROXY_DESTINATION_SVC_ADDR", "LINKERD2_PROXY_DESTINATION_SVC_NAME",
    "LINKERD2_PROXY_POLICY_SVC_ADDR", "LINKERD2_PROXY_POLICY_SVC_NAME",
    "LINKERD2_PROXY_INBOUND_LISTEN_ADDR", "LINKERD2_PROXY_OUTBOUND_LISTEN_ADDR",
    "LINKERD2_PROXY_ADMIN_LISTEN_ADDR", "LINKERD2_PROXY_CONTROL_LISTEN_ADDR",
    "LINKERD2_PROXY_IDENTITY_DIR", "LINKERD2_PROXY_IDENTITY_TRUST_ANCHORS",
    "LINKERD2_PROXY_IDENTITY_TOKEN_FILE", "LINKERD2_PROXY_IDENTITY_SVC_ADDR",
    "LINKERD2_PROXY_IDENTITY_SVC_NAME", "LINKERD2_PROXY_IDENTITY_LOCAL_NAME",
    "LINKERD2_PROXY_DESTINATION_CONTEXT", "LINKERD2_PROXY_INBOUND_IPS",
]


def env_map(c):
    out = {}
    for e in c.get("env", []):
        out[e["name"]] = e.get("value", e.get("valueFrom"))
    return out


def arg_after(args, flag):
    i = args.index(flag)
    return args[i + 1]


def check_injected(tc, before, after, ns, facts):
    """Asserts the reference facts on `after` (the patched pod)."""
    facts = facts or {}
    spec = after["spec"]
    inits = spec.get("initContainers", [])
    conts = spec["containers"]
    mode = facts.get("mode", "native")
    admin = facts.get("admin_port", 4191)
    inbound = facts.get("inbound_port", 4143)
    uid = facts.get("uid", 2102)
    names_i = [c["name"] for c in inits]
    names_c = [c["name"] for c in conts]
    # Container order per mode (§4.4, §4.8).
    if mode == "native":
        tc.assertEqual(names_i[:2], ["linkerd-init", "linkerd-proxy"])
        proxy = inits[1]
        tc.assertEqual(proxy.get("restartPolicy"), "Always")
        tc.assertNotIn("linkerd-proxy", names_c)
        tc.assertEqual(proxy["startupProbe"]["httpGet"], {"path": "/ready", "port": admin})
        tc.assertEqual(proxy["startupProbe"]["failureThreshold"], 120)
    else:
        tc.assertEqual(names_i[-1], "linkerd-init")
        tc.assertNotIn("linkerd-proxy", names_i)
        if mode == "classic-await":
            tc.assertEqual(names_c[0], "linkerd-proxy")
            proxy = conts[0]
            cmd = proxy["lifecycle"]["postStart"]["exec"]["command"]
            tc.assertIn("--port=%d" % admin, cmd)
        else:
            tc.assertEqual(names_c[-1], "linkerd-proxy")
            proxy = conts[-1]
            tc.assertNotIn("postStart", proxy.get("lifecycle", {}))
        tc.assertNotIn("restartPolicy", proxy)
        tc.assertNotIn("startupProbe", proxy)
    init = inits[names_i.index("linkerd-init")]
    # The application's own containers are all still there, in order.
    orig = [c["name"] for c in before["spec"].get("containers", [])]
    tc.assertEqual([n for n in names_c if n != "linkerd-proxy"], orig)
    orig_i = [c["name"] for c in before["spec"].get("initContainers", [])]
    tc.assertEqual([n for n in names_i if n not in ("linkerd-proxy", "linkerd-init")], orig_i)

    # linkerd-init: our binary, Linkerd's flags, NET_ADMIN + NET_RAW, 65534, read-only root.
    tc.assertTrue(init["command"][0].endswith("cmesh-proxy-init"))
    tc.assertEqual(init["image"], proxy["image"])
    sc = init["securityContext"]
    tc.assertEqual(sorted(sc["capabilities"]["add"]), ["NET_ADMIN", "NET_RAW"])
    tc.assertEqual(sc["runAsUser"], 65534)
    tc.assertEqual(sc["runAsGroup"], 65534)
    tc.assertTrue(sc["runAsNonRoot"])
    tc.assertTrue(sc["readOnlyRootFilesystem"])
    tc.assertFalse(sc["privileged"])
    tc.assertFalse(sc["allowPrivilegeEscalation"])
    tc.assertEqual(init["volumeMounts"], [{"mountPath": "/run", "name": "linkerd-proxy-init-xtables-lock"}])
    args = init["args"]
    tc.assertEqual(arg_after(args, "--incoming-proxy-port"), str(inbound))
    tc.assertEqual(arg_after(args, "--proxy-uid"), str(uid))
    ignored_in = arg_after(args, "--inbound-ports-to-ignore").split(",")
    tc.assertIn(str(admin), ignored_in)
    for a in facts.get("init_args", []):
        tc.assertIn(a, args)
    for a in facts.get("init_args_absent", []):
        tc.assertNotIn(a, args)

    # linkerd-proxy: our binary, ports, probes, uid, env.
    tc.assertTrue(proxy["command"][0].endswith("cmesh-proxy"))
    tc.assertEqual(proxy["ports"], [{"containerPort": inbound, "name": "linkerd-proxy"},
                                    {"containerPort": admin, "name": "linkerd-admin"}])
    tc.assertEqual(proxy["livenessProbe"]["httpGet"], {"path": "/live", "port": admin})
    tc.assertEqual(proxy["readinessProbe"]["httpGet"], {"path": "/ready", "port": admin})
    tc.assertEqual(proxy["livenessProbe"]["initialDelaySeconds"], 10)
    tc.assertEqual(proxy["readinessProbe"]["initialDelaySeconds"], 2)
    psc = proxy["securityContext"]
    tc.assertEqual(psc["runAsUser"], uid)
    tc.assertTrue(psc["runAsNonRoot"])
    tc.assertTrue(psc["readOnlyRootFilesystem"])
    tc.assertFalse(psc["allowPrivilegeEscalation"])
    if "gid" in facts:
        tc.assertEqual(psc["runAsGroup"], facts["gid"])
    else:
        tc.assertNotIn("runAsGroup", psc)
    if "proxy_capabilities" in facts:
        tc.assertEqual(psc["capabilities"], facts["proxy_capabilities"])
    if "resources" in facts:
        tc.assertEqual(proxy["resources"], facts["resources"])
    if "pre_stop" in facts:
        tc.assertEqual(proxy["lifecycle"]["preStop"]["exec"]["command"], facts["pre_stop"])
    env = env_map(proxy)
    for name in REQUIRED_ENV:
        tc.assertIn(name, env)
    tc.assertEqual(env["LINKERD2_PROXY_IDENTITY_TRUST_ANCHORS"], ANCHORS)
    tc.assertEqual(env["LINKERD2_PROXY_INBOUND_LISTEN_ADDR"].rsplit(":", 1)[1], str(inbound))
    tc.assertEqual(env["LINKERD2_PROXY_ADMIN_LISTEN_ADDR"].rsplit(":", 1)[1], str(admin))
    tc.assertEqual(env["LINKERD2_PROXY_IDENTITY_DIR"], "/var/run/linkerd/identity/end-entity")
    tc.assertEqual(env["LINKERD2_PROXY_IDENTITY_SVC_ADDR"],
                   "cmesh-identity-headless.linkerd.svc.cluster.local.:8080")
    tc.assertEqual(env["LINKERD2_PROXY_DESTINATION_SVC_ADDR"],
                   "cmesh-dst-headless.linkerd.svc.cluster.local.:8086")
    for k, v in facts.get("env", {}).items():
        tc.assertEqual(env.get(k), v, k)
    if "LINKERD2_PROXY_INGRESS_MODE" not in facts.get("env", {}):
        tc.assertNotIn("LINKERD2_PROXY_INGRESS_MODE", env)

    # Volumes (§4.4).
    vols = {v["name"]: v for v in spec["volumes"]}
    tc.assertEqual(vols["linkerd-identity-end-entity"]["emptyDir"], {"medium": "Memory"})
    tc.assertEqual(vols["linkerd-proxy-init-xtables-lock"]["emptyDir"], {})
    mounts = {m["name"]: m["mountPath"] for m in proxy["volumeMounts"]}
    tc.assertEqual(mounts["linkerd-identity-end-entity"], "/var/run/linkerd/identity/end-entity")
    if facts.get("no_token_volume"):
        tc.assertNotIn("linkerd-identity-token", vols)
    else:
        tok = vols["linkerd-identity-token"]["projected"]["sources"][0]["serviceAccountToken"]
        tc.assertEqual(tok, {"audience": "identity.l5d.io", "expirationSeconds": 86400,
                             "path": "linkerd-identity-token"})
        tc.assertEqual(mounts["linkerd-identity-token"], "/var/run/secrets/tokens")
        tc.assertEqual(env["LINKERD2_PROXY_IDENTITY_TOKEN_FILE"],
                       "/var/run/secrets/tokens/linkerd-identity-token")
    for v in before["spec"].get("volumes", []):
        tc.assertIn(v["name"], vols)

    # Labels and annotations (§4.7).
    md = after["metadata"]
    labels, anns = md["labels"], md["annotations"]
    tc.assertEqual(labels["linkerd.io/control-plane-ns"], "linkerd")
    tc.assertEqual(labels["linkerd.io/workload-ns"], ns)
    for k, v in facts.get("labels", {}).items():
        tc.assertEqual(labels.get(k), v)
    tc.assertEqual(anns["linkerd.io/trust-root-sha256"], ANCHORS_SHA)
    tc.assertEqual(anns["linkerd.io/proxy-version"], proxy["image"].rsplit(":", 1)[1])
    tc.assertTrue(anns["linkerd.io/created-by"].startswith("cmesh/proxy-injector "))
    for k, v in facts.get("annotations", {}).items():
        tc.assertEqual(anns.get(k), v)
    for k in facts.get("annotations_absent", []):
        tc.assertNotIn(k, anns)
    # Nothing the pod had was changed.
    for k, v in (before.get("metadata") or {}).get("labels", {}).items():
        tc.assertEqual(labels[k], v)
    for k, v in (before.get("metadata") or {}).get("annotations", {}).items():
        tc.assertEqual(anns[k], v)
