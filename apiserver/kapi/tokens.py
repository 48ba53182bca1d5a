"""Service-account tokens: TokenRequest issues them, TokenReview checks them.

Tokens are JWT-shaped (header.claims.signature, base64url) with the claims of
a bound token (kubernetes-api.md §7.2) so code that peeks at the claims sees
real names. They are signed with HMAC-SHA256 under a per-process key and the
header says so (alg HS256): only this server validates them. Every issued
token is also remembered, so a review checks both signature and memory.
"""
import base64
import hashlib
import hmac
import json
import os
import threading
import time
import uuid

DEFAULT_ISSUER = "https://kubernetes.default.svc.cluster.local"
DEFAULT_API_AUDIENCE = "https://kubernetes.default.svc.cluster.local"
DEFAULT_EXPIRATION = 3600
MIN_EXPIRATION = 600          # TokenRequest rejects shorter lifetimes
KEY_BYTES = 32


def _b64(data):
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


class TokenAuthority:
    def __init__(self, api_audiences=None, issuer=DEFAULT_ISSUER):
        self.api_audiences = list(api_audiences or [DEFAULT_API_AUDIENCE])
        self.issuer = issuer
        self._key = os.urandom(KEY_BYTES)
        self._lock = threading.Lock()
        self._issued = {}   # token -> claims
        self._static = {}   # token -> {"ns","sa","aud"} from --token-map

    def add_static(self, spec):
        """--token-map TOKEN=NAMESPACE/SERVICEACCOUNT[@aud1,aud2]"""
        token, sep, rest = spec.partition("=")
        who, _, auds = rest.partition("@")
        ns, slash, sa = who.partition("/")
        if not sep or not token or not slash or not ns or not sa:
            raise ValueError("--token-map wants TOKEN=NAMESPACE/SERVICEACCOUNT[@aud,...], "
                             "got %r" % spec)
        self._static[token] = {"ns": ns, "sa": sa,
                               "aud": [a for a in auds.split(",") if a] or self.api_audiences}

    def issue(self, ns, sa_obj, audiences, expiration, bound=None):
        """Returns (token, expiry epoch seconds)."""
        now = int(time.time())
        md = sa_obj["metadata"]
        claims = {"iss": self.issuer, "sub": "system:serviceaccount:%s:%s" % (ns, md["name"]),
                  "aud": list(audiences or self.api_audiences), "iat": now, "nbf": now,
                  "exp": now + expiration, "jti": str(uuid.uuid4()),
                  "kubernetes.io": {"namespace": ns,
                                    "serviceaccount": {"name": md["name"], "uid": md["uid"]}}}
        if bound and bound.get("kind") in ("Pod", "Secret") and bound.get("name"):
            claims["kubernetes.io"][bound["kind"].lower()] = {"name": bound["name"],
                                                             "uid": bound.get("uid", "")}
        header = {"alg": "HS256", "kid": "cmesh-standin", "typ": "JWT"}
        signing = "%s.%s" % (_b64(json.dumps(header).encode()), _b64(json.dumps(claims).encode()))
        sig = hmac.new(self._key, signing.encode(), hashlib.sha256).digest()
        token = signing + "." + _b64(sig)
        with self._lock:
            self._issued[token] = claims
        return token, claims["exp"]

    def _verify(self, token):
        """claims of a token this server issued and can verify, else None."""
        with self._lock:
            claims = self._issued.get(token)
        if claims is None:
            return None
        signing, _, sig = token.rpartition(".")
        good = _b64(hmac.new(self._key, signing.encode(), hashlib.sha256).digest())
        return claims if hmac.compare_digest(good, sig) else None

    def review(self, token, audiences, lookup_sa):
        """TokenReview status (§7.1). lookup_sa(ns, name) -> object or None."""
        wanted = list(audiences or self.api_audiences)
        static = self._static.get(token)
        if static is not None:
            sa = lookup_sa(static["ns"], static["sa"])
            ns, name, token_aud = static["ns"], static["sa"], static["aud"]
            uid = sa["metadata"]["uid"] if sa else ""
            extra = {}
        else:
            claims = self._verify(token)
            if claims is None:
                return {"authenticated": False, "error": "invalid bearer token"}
            if claims["exp"] < time.time():
                return {"authenticated": False, "error": "token has expired"}
            k8s = claims["kubernetes.io"]
            ns, name = k8s["namespace"], k8s["serviceaccount"]["name"]
            sa = lookup_sa(ns, name)
            if sa is None or sa["metadata"]["uid"] != k8s["serviceaccount"]["uid"]:
                return {"authenticated": False,
                        "error": "service account %s/%s has been deleted" % (ns, name)}
            token_aud, uid = claims["aud"], k8s["serviceaccount"]["uid"]
            extra = {"authentication.kubernetes.io/credential-id": ["JTI=" + claims["jti"]]}
            if "pod" in k8s:
                extra["authentication.kubernetes.io/pod-name"] = [k8s["pod"]["name"]]
                extra["authentication.kubernetes.io/pod-uid"] = [k8s["pod"]["uid"]]
        granted = [a for a in wanted if a in token_aud]
        if not granted:
            return {"authenticated": False, "error": "token audiences %s is invalid for the "
                    "target audiences %s" % (json.dumps(token_aud), json.dumps(wanted))}
        user = {"username": "system:serviceaccount:%s:%s" % (ns, name), "uid": uid,
                "groups": ["system:serviceaccounts", "system:serviceaccounts:" + ns,
                           "system:authenticated"]}
        if extra:
            user["extra"] = extra
        return {"authenticated": True, "user": user, "audiences": granted}
