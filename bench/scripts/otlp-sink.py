#!/usr/bin/env python3
"""An OTLP/HTTP receiver that accepts everything and keeps nothing, for overhead runs:
every POST (to /v1/traces, /v1/metrics, /v1/logs) is read whole and answered 200.

    bench/scripts/otlp-sink.py [port]     # default 4318, on 127.0.0.1 only
"""
import http.server
import sys


class Sink(http.server.BaseHTTPRequestHandler):
    def do_POST(self):
        self.rfile.read(int(self.headers.get("Content-Length", "0")))
        self.send_response(200)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args):
        pass


port = int(sys.argv[1]) if len(sys.argv) > 1 else 4318
http.server.ThreadingHTTPServer(("127.0.0.1", port), Sink).serve_forever()
