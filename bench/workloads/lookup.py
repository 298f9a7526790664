"""A bench workload: a lookup server over a big table held in memory, each answer touching a small part of it.

Usage: lookup.py MIB PORT
Holds MIB MiB of written, non-zero memory (a table of 64 KiB rows: an embedding table, a cache) and answers
GET /row/N on 127.0.0.1:PORT with the sha256 of row N. Prints "ready" once every page is written and it
listens. A restored server answers as soon as the rows it is asked for are back: what a lazy restore is for.
"""
import hashlib
import http.server
import os
import sys

ROW = 64 * 1024
mib = int(sys.argv[1])
port = int(sys.argv[2])
chunk = os.urandom(1024 * 1024)
table = bytearray(chunk) * mib
rows = len(table) // ROW
for i in range(rows):  # every row differs, so that a row out of place shows
    table[i * ROW : i * ROW + 8] = i.to_bytes(8, "little")


class Handler(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        n = int(self.path.rsplit("/", 1)[-1]) % rows
        body = hashlib.sha256(table[n * ROW : (n + 1) * ROW]).hexdigest().encode()
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *_args):
        pass


server = http.server.HTTPServer(("127.0.0.1", port), Handler)
print("ready", flush=True)
server.serve_forever()
