#!/usr/bin/env python3
"""An OTLP/HTTP receiver that accepts everything and keeps nothing, for overhead runs:
every POST (to /v1/traces, /v1/metrics, /v1/logs) is read whole and answered 200. On SIGINT or
SIGTERM it prints, per path, how many requests and bytes it received, so a run can show that
each signal was really exported.

    bench/scripts/otlp-sink.py [port]     # default 4318, on 127.0.0.1 only
"""
import collections
import http.server
import signal
import sys
import threading

received = collections.defaultdict(lambda: [0, 0])
lock = threading.Lock()


class Sink(http.server.BaseHTTPRequestHandler):
    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
        with lock:
            received[self.path][0] += 1
            received[self.path][1] += len(body)
        self.send_response(200)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args):
        pass


def report(*_):
    with lock:
        for path, (requests, size) in sorted(received.items()):
            print(f"{path} {requests} requests {size} bytes", file=sys.stderr, flush=True)
    sys.exit(0)


signal.signal(signal.SIGTERM, report)
signal.signal(signal.SIGINT, report)
port = int(sys.argv[1]) if len(sys.argv) > 1 else 4318
server = http.server.ThreadingHTTPServer(("127.0.0.1", port), Sink)
threading.Thread(target=server.serve_forever, daemon=True).start()
while True:
    signal.pause()
