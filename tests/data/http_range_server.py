#!/usr/bin/env python3
"""A static HTTP server on 127.0.0.1 for the download tests.

Serves files under --root with byte-range support (206 / 416), and can cut
the first transfer of every file after --drop-after bytes (to test resuming)
or ignore range requests (--no-ranges, to test a restart from zero). Writes
the port it listens on to --port-file once it is ready.
"""
import argparse
import http.server
import os
import re
import threading

parser = argparse.ArgumentParser()
parser.add_argument("--root", required=True)
parser.add_argument("--port-file", required=True)
parser.add_argument("--drop-after", type=int, default=0)
parser.add_argument("--drop-suffix", default="", help="cut only files whose name ends with this")
parser.add_argument("--no-ranges", action="store_true")
# Faults of a misbehaving server (for tests/robustness/download_faults.py):
#   close-early  a body without Content-Length, cut in half, closed cleanly
#   bad-range    every 206 claims to start one byte later than asked
#   html         every file is served as a 200 HTML error page
#   endless      the body never ends (for the checksum list)
parser.add_argument("--fault", default="", choices=["", "close-early", "bad-range", "html", "endless"])
parser.add_argument("--fault-suffix", default="", help="apply --fault only to paths ending with this")
args = parser.parse_args()

dropped = set()
lock = threading.Lock()


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *a):
        pass

    def do_GET(self):
        path = os.path.normpath(os.path.join(args.root, self.path.lstrip("/").split("?")[0]))
        if not path.startswith(os.path.abspath(args.root)) or not os.path.isfile(path):
            body = b"not found"
            self.send_response(404)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)
            return
        with open(path, "rb") as f:
            data = f.read()
        fault = args.fault if path.endswith(args.fault_suffix) else ""
        if fault == "html":
            body = b"<!DOCTYPE html><html><body>Service unavailable</body></html>\n"
            self.send_response(200)
            self.send_header("Content-Type", "text/html")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)
            return
        if fault == "endless":
            self.send_response(200)
            self.send_header("Connection", "close")
            self.end_headers()
            chunk = b"0" * 64 + b"  x\n"
            try:
                while True:
                    self.wfile.write(chunk * 1024)
            except (BrokenPipeError, ConnectionResetError):
                pass
            self.close_connection = True
            return
        if fault == "close-early":
            self.send_response(200)
            self.send_header("Connection", "close")
            self.end_headers()
            self.wfile.write(data[: len(data) // 2])
            self.close_connection = True
            return
        start = 0
        m = re.match(r"bytes=(\d+)-$", self.headers.get("Range", ""))
        if m and not args.no_ranges:
            start = int(m.group(1))
            if start >= len(data):
                self.send_response(416)
                self.send_header("Content-Range", "bytes */%d" % len(data))
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
            self.send_response(206)
            shift = 1 if fault == "bad-range" else 0
            self.send_header("Content-Range", "bytes %d-%d/%d" % (start + shift, len(data) - 1, len(data)))
        else:
            self.send_response(200)
        body = data[start:]
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        with lock:
            cut = args.drop_after > 0 and path.endswith(args.drop_suffix) and path not in dropped and len(body) > args.drop_after
            if cut:
                dropped.add(path)
        if cut:
            self.wfile.write(body[: args.drop_after])
            self.wfile.flush()
            self.close_connection = True
            return
        self.wfile.write(body)


args.root = os.path.abspath(args.root)
server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
tmp = args.port_file + ".tmp"
with open(tmp, "w") as f:
    f.write(str(server.server_address[1]))
os.replace(tmp, args.port_file)
server.serve_forever()
