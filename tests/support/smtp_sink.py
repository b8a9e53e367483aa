#!/usr/bin/python3
"""A loopback SMTP receiver for the mail delivery test (Debian's python3-aiosmtpd).

Usage: smtp_sink.py OUTDIR
Listens on 127.0.0.1 on a free port, prints the port on stdout, and writes each
message it receives to OUTDIR/N.eml (the DATA bytes, as received) plus
OUTDIR/N.env (MAIL FROM and RCPT TO). Runs until killed.
"""
import asyncio
import os
import socket
import sys

from aiosmtpd.controller import Controller


class Sink:
    def __init__(self, outdir):
        self.outdir = outdir
        self.n = 0

    async def handle_DATA(self, server, session, envelope):
        self.n += 1
        base = os.path.join(self.outdir, str(self.n))
        with open(base + ".env.tmp", "w") as f:
            f.write("from %s\nto %s\n" % (envelope.mail_from, " ".join(envelope.rcpt_tos)))
        with open(base + ".eml.tmp", "wb") as f:
            f.write(envelope.original_content or envelope.content)
        os.rename(base + ".env.tmp", base + ".env")
        os.rename(base + ".eml.tmp", base + ".eml")
        return "250 OK"


def main():
    outdir = sys.argv[1]
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    c = Controller(Sink(outdir), hostname="127.0.0.1", port=port)
    c.start()
    print(port, flush=True)
    try:
        asyncio.get_event_loop().run_forever()
    finally:
        c.stop()


if __name__ == "__main__":
    main()
