"""A python3-grpcio client of Destination built from our proto (for tests)."""
import queue
import threading
import time

import grpc

import destination_pb2
import destination_pb2_grpc


class Stream:
    """One Get or GetProfile stream read by a thread into a queue."""

    def __init__(self, channel, method, path, token=""):
        stub = destination_pb2_grpc.DestinationStub(channel)
        req = destination_pb2.GetDestination(scheme="k8s", path=path, context_token=token)
        self.call = (stub.Get if method == "Get" else stub.GetProfile)(req)
        self.q = queue.Queue()
        self.arrivals = []  # time.monotonic() of each message, in order
        self.code = None
        self.details = None
        self.done = threading.Event()
        self.t = threading.Thread(target=self._run, daemon=True)
        self.t.start()

    def _run(self):
        try:
            for m in self.call:
                self.arrivals.append(time.monotonic())
                self.q.put(m)
        except grpc.RpcError as e:
            self.code, self.details = e.code(), e.details()
        else:
            self.code = grpc.StatusCode.OK
        self.done.set()

    def next(self, timeout=10.0):
        return self.q.get(timeout=timeout)

    def empty_for(self, seconds):
        try:
            m = self.q.get(timeout=seconds)
        except queue.Empty:
            return True
        self.q.put(m)
        return False

    def wait_end(self, timeout=10.0):
        if not self.done.wait(timeout):
            raise AssertionError("stream did not end")
        return self.code

    def cancel(self):
        self.call.cancel()
        self.done.wait(5)


def addrs(update):
    """The set of "ip:port" strings in an add or remove."""
    kind = update.WhichOneof("update")
    lst = update.add.addrs if kind == "add" else update.remove.addrs if kind == "remove" else []
    out = set()
    for a in lst:
        tcp = a.addr if kind == "add" else a
        ip = tcp.ip.ipv4
        out.add("%d.%d.%d.%d:%d" % (ip >> 24, (ip >> 16) & 255, (ip >> 8) & 255, ip & 255, tcp.port))
    return out
