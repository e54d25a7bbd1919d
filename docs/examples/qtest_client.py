#!/usr/bin/env python3
"""A qtest client for emuhost in Python's standard library alone.

It starts `emuhost qtest` with q35 and QEMU's edu device at slot 04.0, talks QEMU's qtest
protocol to it (one command a line, one `OK ...` or `FAIL ...` answer each; `IRQ ...` lines
are events and are skipped), and drives edu the way a guest driver would: PCI configuration
space through ports 0xcf8/0xcfc, BAR0 mapped and memory decoding enabled, then edu's
identification, liveness and factorial registers. The virtual clock moves only when the
client says so (`clock_step`).

    python3 docs/examples/qtest_client.py                      # runs `npx emuhost`
    python3 docs/examples/qtest_client.py --transport stdio
    python3 docs/examples/qtest_client.py --emuhost "node cli/bin/emuhost.mjs"

`--transport unix` (the default) works as QEMU's libqtest does: the client listens on a unix
socket and emuhost connects to it (`-qtest unix:PATH`); `stdio` uses emuhost's standard input
and output. Exit status 0 when every check held.
"""

import argparse
import os
import shlex
import socket
import subprocess
import sys
import tempfile

EDU_BAR0 = 0xFE000000  # BAR0 is 1 MiB: its address must be 1 MiB aligned
EDU_SLOT = 4


class Qtest:
    """One qtest session: `cmd` sends a line and returns the words after `OK`."""

    def __init__(self, emuhost, machine_args, transport):
        self._tmp = tempfile.TemporaryDirectory()
        argv = emuhost + ["qtest"] + machine_args + ["-qtest-log", "/dev/null"]
        if transport == "unix":
            path = os.path.join(self._tmp.name, "qtest.sock")
            server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            server.bind(path)
            server.listen(1)
            server.settimeout(60)
            self.proc = subprocess.Popen(argv + ["-qtest", "unix:" + path])
            conn, _ = server.accept()
            server.close()
            self._in = conn.makefile("r", encoding="ascii", newline="\n")
            self._out = conn.makefile("w", encoding="ascii", newline="\n")
            self._conn = conn
        else:
            self.proc = subprocess.Popen(
                argv + ["-qtest", "stdio"],
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                text=True,
                bufsize=1,
            )
            self._in, self._out, self._conn = self.proc.stdout, self.proc.stdin, None

    def cmd(self, line):
        self._out.write(line + "\n")
        self._out.flush()
        while True:
            answer = self._in.readline()
            if answer == "":
                raise RuntimeError("emuhost closed the connection after: " + line)
            if not answer.startswith("IRQ"):
                break
        words = answer.split()
        if words[0] != "OK":
            raise RuntimeError("%s -> %s" % (line, answer.strip()))
        return words[1:]

    def outl(self, port, value):
        self.cmd("outl 0x%x 0x%x" % (port, value))

    def inl(self, port):
        return int(self.cmd("inl 0x%x" % port)[0], 16)

    def writel(self, addr, value):
        self.cmd("writel 0x%x 0x%x" % (addr, value))

    def readl(self, addr):
        return int(self.cmd("readl 0x%x" % addr)[0], 16)

    def clock_step(self):
        """Runs the virtual clock to the next timer; returns the new time in ns."""
        return int(self.cmd("clock_step")[0])

    def close(self):
        # A qtest target ends when its client goes away, as QEMU does.
        self._out.close()
        self._in.close()
        if self._conn is not None:
            self._conn.close()
        self.proc.wait(timeout=60)
        self._tmp.cleanup()


def pci_config(devfn, reg):
    """CONFIG_ADDRESS for bus 0 (configuration mechanism #1)."""
    return 0x80000000 | (devfn << 8) | reg


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--emuhost", default="npx emuhost", help="how to run emuhost")
    parser.add_argument("--transport", choices=["unix", "stdio"], default="unix")
    args = parser.parse_args()

    qt = Qtest(
        shlex.split(args.emuhost),
        ["-machine", "q35", "-device", "edu,addr=%02x.0" % EDU_SLOT],
        args.transport,
    )
    checks = []

    def check(what, got, want):
        ok = got == want
        checks.append(ok)
        print("%s %s: 0x%x%s" % ("ok  " if ok else "FAIL", what, got, "" if ok else " (want 0x%x)" % want))

    try:
        devfn = EDU_SLOT << 3
        qt.outl(0xCF8, pci_config(devfn, 0x00))
        check("vendor:device", qt.inl(0xCFC), 0x11E81234)
        qt.outl(0xCF8, pci_config(devfn, 0x10))
        qt.outl(0xCFC, EDU_BAR0)  # BAR0
        qt.outl(0xCF8, pci_config(devfn, 0x04))
        qt.outl(0xCFC, 0x6)  # COMMAND: memory decoding, bus master
        check("edu identification", qt.readl(EDU_BAR0), 0x010000ED)
        qt.writel(EDU_BAR0 + 0x04, 0x12345678)
        check("liveness (inverted)", qt.readl(EDU_BAR0 + 0x04), 0xEDCBA987)
        qt.writel(EDU_BAR0 + 0x08, 10)
        qt.clock_step()  # the computation is a timer in virtual time
        check("factorial of 10", qt.readl(EDU_BAR0 + 0x08), 3628800)
    finally:
        qt.close()
    return 0 if all(checks) else 1


if __name__ == "__main__":
    sys.exit(main())
