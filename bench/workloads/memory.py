"""A bench workload: N MiB of touched, non-zero memory, then idle — or, with --tick, ticking a clock.

Usage: memory.py MIB [--tick]
Prints "ready" once every page is written (CRIU dumps what is resident), then sleeps until killed. With
--tick a thread reads the clock every millisecond and keeps the longest gap between two reads (the freeze a
checkpoint imposes); each SIGUSR1 prints "gap <ms>" — the longest since the previous SIGUSR1 — and resets it.
"""
import os
import signal
import sys
import threading
import time

mib = int(sys.argv[1])
chunk = os.urandom(1024 * 1024)
data = bytearray(chunk) * mib  # every page written, not compressible to zero pages

longest = 0.0


def tick():
    global longest
    last = time.monotonic()
    while True:
        time.sleep(0.001)
        now = time.monotonic()
        longest = max(longest, now - last)
        last = now


def report(_signum, _frame):
    global longest
    print(f"gap {longest * 1000:.1f}", flush=True)
    longest = 0.0


if "--tick" in sys.argv[2:]:
    signal.signal(signal.SIGUSR1, report)
    threading.Thread(target=tick, daemon=True).start()
print("ready", flush=True)
while True:
    time.sleep(3600)
