#!/bin/sh
# Runs every test against the build tree given (default build/asan):
#   test/run.sh [BUILD] [unit|integration|all]
exec /usr/bin/python3 "$(dirname "$0")/lib/runall.py" "$@"
