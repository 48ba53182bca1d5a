"""Sends a steady trickle of requests through the demo proxy so that its
metrics move: two requests a second over one keep-alive connection, with a new
connection after any error. Usage: demo_traffic.py HOST:PORT AUTHORITY"""
import http.client
import sys
import time


def main():
    host, port = sys.argv[1].rsplit(":", 1)
    authority = sys.argv[2]
    conn = None
    n = 0
    while True:
        try:
            if conn is None:
                conn = http.client.HTTPConnection(host, int(port), timeout=5)
            conn.request("GET", "/demo/%d" % n, headers={"Host": authority})
            conn.getresponse().read()
            n += 1
        except (OSError, http.client.HTTPException):
            conn = None
        time.sleep(0.5)


if __name__ == "__main__":
    main()
