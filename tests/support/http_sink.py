#!/usr/bin/python3
"""A loopback HTTP receiver for the webhook test.

Usage: http_sink.py OUTDIR SECRET FAILURES STATUS
Listens on 127.0.0.1 on a free port and prints the port on stdout. The first
FAILURES POST requests are answered with STATUS (e.g. 500), the rest with 204.
Each request is logged to OUTDIR/N.req: the status sent, whether the
X-Dmarcsift-Signature header matches HMAC-SHA256(SECRET, body) computed here
with Python's hmac module, the event header, then the body.
"""
import hashlib
import hmac
import http.server
import os
import sys

outdir, secret, failures, status = sys.argv[1], sys.argv[2].encode(), int(sys.argv[3]), int(sys.argv[4])
count = 0


class Handler(http.server.BaseHTTPRequestHandler):
    def do_POST(self):
        global count
        count += 1
        body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
        want = "sha256=" + hmac.new(secret, body, hashlib.sha256).hexdigest()
        got = self.headers.get("X-Dmarcsift-Signature", "")
        code = status if count <= failures else 204
        path = os.path.join(outdir, "%d.req" % count)
        with open(path + ".tmp", "wb") as f:
            f.write(b"status %d\nsignature %s\nevent %s\ncontent-type %s\n\n" % (
                code, b"ok" if hmac.compare_digest(want, got) else b"bad",
                self.headers.get("X-Dmarcsift-Event", "").encode(),
                self.headers.get("Content-Type", "").encode()))
            f.write(body)
        os.rename(path + ".tmp", path)
        self.send_response(code)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args):
        pass


srv = http.server.HTTPServer(("127.0.0.1", 0), Handler)
print(srv.server_address[1], flush=True)
srv.serve_forever()
