"""A bench workload: N MiB of touched, non-zero memory, then idle.

Usage: memory.py MIB
Prints "ready" once every page is written (CRIU dumps what is resident), then sleeps until killed.
"""
import os
import sys
import time

mib = int(sys.argv[1])
chunk = os.urandom(1024 * 1024)
data = bytearray(chunk) * mib  # every page written, not compressible to zero pages
print("ready", flush=True)
while True:
    time.sleep(3600)
