#!/usr/bin/env python3
"""`leaves download` against crafted servers (tests/data/http_range_server.py
with --fault) and a file:// mirror: nothing corrupt is ever installed with a
zero exit, no empty or stale .part is left, every failure is one clear line.

Usage: download_faults.py LEAVES SHARED_DATA
"""
import io
import os
import shutil
import subprocess
import sys
import tempfile
import time
import zipfile

LEAVES = os.path.abspath(sys.argv[1])
SHARED = sys.argv[2]
HERE = os.path.dirname(os.path.abspath(__file__))
SERVER = os.path.join(HERE, "..", "data", "http_range_server.py")
APNEA = os.path.join(SHARED, "formats", "apnea-ecg")
failures = []
count = 0


def check(ok, what):
    global count
    count += 1
    if not ok:
        failures.append(what)
        print("FAIL", what, flush=True)


class Server:
    def __init__(self, root, tmp, *flags):
        port_file = os.path.join(tmp, "port-%d" % time.monotonic_ns())
        self.proc = subprocess.Popen([sys.executable, SERVER, "--root", root, "--port-file", port_file] + list(flags),
                                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        for _ in range(200):
            if os.path.exists(port_file):
                break
            time.sleep(0.02)
        self.url = "http://127.0.0.1:%s/" % open(port_file).read().strip()

    def __enter__(self):
        return self

    def __exit__(self, *a):
        self.proc.kill()
        self.proc.wait()


def download(study, dest, base, *extra):
    p = subprocess.run([LEAVES, "download", study, "--dest", dest, "--base-url", base, "--retries", "1"] + list(extra),
                       capture_output=True, timeout=120)
    return p.returncode, p.stderr.decode("utf-8", "replace")


def parts(folder):
    out = []
    for root, _, files in os.walk(folder):
        out += [f for f in files if f.endswith(".part") or ".tmp." in f]
    return out


def one_line(err):
    lines = [l for l in err.splitlines() if l.strip()]
    return len(lines) == 1 and "frame #" not in err


def main():
    tmp = tempfile.mkdtemp(prefix="leaves-download-")
    try:
        # The mirrors: Apnea-ECG's list and a few files; PAMAP2's archive (a real zip).
        apnea = os.path.join(tmp, "apnea")
        os.makedirs(apnea)
        for f in ["RECORDS", "event-2.txt", "a01.hea", "a01.apn", "a02.apn"]:
            shutil.copy(os.path.join(APNEA, f), apnea)
        shutil.copy(os.path.join(APNEA, "SHA256SUMS"), os.path.join(apnea, "SHA256SUMS.txt"))
        event2 = open(os.path.join(APNEA, "event-2.txt"), "rb").read()
        pamap = os.path.join(tmp, "pamap")
        os.makedirs(pamap)
        buf = io.BytesIO()
        with zipfile.ZipFile(buf, "w") as z:
            z.writestr("PAMAP2_Dataset/readme.txt", open(os.path.join(SHARED, "formats", "pamap2", "readme.txt"),
                                                         "rb").read() * 4)
        zip_bytes = buf.getvalue()
        open(os.path.join(pamap, "pamap2+physical+activity+monitoring.zip"), "wb").write(zip_bytes)

        def dest(name):
            d = os.path.join(tmp, "d-" + name)
            shutil.rmtree(d, ignore_errors=True)
            return d

        only_event = ["--only", "event-2.txt"]
        with Server(apnea, tmp) as s:
            d = dest("event")
            rc, err = download("apnea-ecg", d, s.url, *only_event)
            check(rc == 1 and "unverified: event-2.txt" in err and "--allow-unverified" in err,
                  f"unverified file without the flag: exit {rc}: {err[-200:]}")
            rc, err = download("apnea-ecg", d, s.url, *only_event, "--allow-unverified")
            check(rc == 0 and open(os.path.join(d, "event-2.txt"), "rb").read() == event2,
                  f"unverified file with the flag: exit {rc}: {err[-200:]}")
            # A stale partial file longer than the server's (416): restarted cleanly.
            d = dest("stale")
            os.makedirs(d)
            open(os.path.join(d, "event-2.txt.part"), "wb").write(os.urandom(len(event2) + 500))
            rc, err = download("apnea-ecg", d, s.url, *only_event, "--allow-unverified")
            check(rc == 0 and open(os.path.join(d, "event-2.txt"), "rb").read() == event2 and not parts(d),
                  f"416 on a stale part: exit {rc}: {err[-200:]}")
            # A verified file whose stale part is too long: the digest decides, then a clean restart.
            d = dest("stale-verified")
            os.makedirs(d)
            a01 = open(os.path.join(APNEA, "a01.apn"), "rb").read()
            open(os.path.join(d, "a01.apn.part"), "wb").write(os.urandom(len(a01) + 10))
            rc, err = download("apnea-ecg", d, s.url, "--only", "a01.apn")
            check(rc == 0 and open(os.path.join(d, "a01.apn"), "rb").read() == a01 and not parts(d),
                  f"416 on a stale verified part: exit {rc}: {err[-200:]}")
            # A 404: one line, no empty .part left.
            os.rename(os.path.join(apnea, "a02.apn"), os.path.join(apnea, "a02.apn.away"))
            d = dest("404")
            rc, err = download("apnea-ecg", d, s.url, "--only", "a02.apn")
            check(rc == 1 and "HTTP 404" in err and one_line(err) and not parts(d), f"404: exit {rc}: {err[-200:]}")
            os.rename(os.path.join(apnea, "a02.apn.away"), os.path.join(apnea, "a02.apn"))
            # A list that misses a needed plain file; a list cut short for the whole study.
            full = open(os.path.join(apnea, "SHA256SUMS.txt")).read().splitlines()
            open(os.path.join(apnea, "SHA256SUMS.txt"), "w").write(
                "\n".join(l for l in full if not l.endswith(" RECORDS")) + "\n")
            rc, err = download("apnea-ecg", dest("nolist"), s.url, "--only", "RECORDS")
            check(rc == 1 and "does not list RECORDS" in err, f"list without RECORDS: exit {rc}: {err[-200:]}")
            open(os.path.join(apnea, "SHA256SUMS.txt"), "w").write("\n".join(full[:len(full) // 3]) + "\n")
            rc, err = download("apnea-ecg", dest("short"), s.url)
            check(rc == 1 and "truncated or wrong checksum list" in err and one_line(err),
                  f"truncated list: exit {rc}: {err[-200:]}")
            open(os.path.join(apnea, "SHA256SUMS.txt"), "w").write("\n".join(full) + "\n")
        # A body closed early without Content-Length: a truncated text file and a truncated zip.
        with Server(apnea, tmp, "--fault", "close-early", "--fault-suffix", "event-2.txt") as s:
            d = dest("close-early")
            rc, err = download("apnea-ecg", d, s.url, *only_event, "--allow-unverified")
            check(rc == 1 and "truncated" in err and not os.path.exists(os.path.join(d, "event-2.txt"))
                  and not parts(d), f"text closed early: exit {rc}: {err[-200:]}")
        with Server(pamap, tmp, "--fault", "close-early") as s:
            d = dest("zip-close-early")
            rc, err = download("pamap2", d, s.url, "--allow-unverified")
            check(rc == 1 and "not a complete zip archive" in err and not parts(d),
                  f"zip closed early: exit {rc}: {err[-200:]}")
        with Server(pamap, tmp) as s:
            d = dest("zip")
            rc, err = download("pamap2", d, s.url, "--allow-unverified")
            check(rc == 0 and open(os.path.join(d, "pamap2+physical+activity+monitoring.zip"), "rb").read() == zip_bytes,
                  f"a whole zip: exit {rc}: {err[-200:]}")
        # A 206 whose Content-Range is not the continuation asked for.
        with Server(apnea, tmp, "--fault", "bad-range") as s:
            d = dest("bad-range")
            os.makedirs(d)
            open(os.path.join(d, "event-2.txt.part"), "wb").write(event2[:1000])
            rc, err = download("apnea-ecg", d, s.url, *only_event, "--allow-unverified")
            check(rc == 0 and open(os.path.join(d, "event-2.txt"), "rb").read() == event2,
                  f"bad Content-Range: exit {rc}: {err[-200:]}")
        # An HTML error page served as the file, and as the checksum list.
        with Server(apnea, tmp, "--fault", "html", "--fault-suffix", "event-2.txt") as s:
            d = dest("html")
            rc, err = download("apnea-ecg", d, s.url, *only_event, "--allow-unverified")
            check(rc == 1 and "HTML page" in err and not os.path.exists(os.path.join(d, "event-2.txt")),
                  f"HTML as the file: exit {rc}: {err[-200:]}")
        with Server(apnea, tmp, "--fault", "html", "--fault-suffix", "SHA256SUMS.txt") as s:
            rc, err = download("apnea-ecg", dest("html-list"), s.url)
            check(rc in (1, 2) and "SHA256SUMS.txt" in err and one_line(err), f"HTML list: exit {rc}: {err[-200:]}")
        # An endless checksum list is cut at its cap.
        with Server(apnea, tmp, "--fault", "endless", "--fault-suffix", "SHA256SUMS.txt") as s:
            rc, err = download("apnea-ecg", dest("endless"), s.url)
            check(rc == 1 and "MiB" in err and one_line(err), f"endless list: exit {rc}: {err[-200:]}")
        # A local mirror (file://).
        d = dest("file-url")
        rc, err = download("apnea-ecg", d, "file://" + apnea + "/", "--only", "a01.hea", *only_event,
                           "--allow-unverified")
        check(rc == 0 and os.path.exists(os.path.join(d, "a01.hea")) and os.path.exists(os.path.join(d, "event-2.txt")),
              f"file:// mirror: exit {rc}: {err[-200:]}")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    print(f"download faults: {count} checks, {count - len(failures)} as expected")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
