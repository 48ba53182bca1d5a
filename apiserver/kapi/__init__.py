"""The modules of cmesh's stand-in Kubernetes API server (see apiserver/README.md)."""
