"""A real SMTP server for the tests (tests/src/mail.rs's SmtpSink): aiosmtpd on 127.0.0.1.

Usage: smtp_sink.py DIRECTORY. It listens on a free port, prints that port on a line of its own,
and writes each message it accepts to DIRECTORY/NNNNNN.json (written whole, then renamed, so a
reader never sees half a file): the envelope, and the message as Python's standard `email`
package reads it (headers decoded, as a list of [name, value]; the text body decoded).

While DIRECTORY/refuse exists and holds a reply code (e.g. 451 or 550), every recipient is refused
with that code, for the tests of retries.
"""

import asyncio
import email
import email.policy
import json
import os
import sys

from aiosmtpd.smtp import SMTP

REPLIES = {
    "4": "4.3.0 Refused for now (test sink), try again later",
    "5": "5.1.1 Refused (test sink)",
}


class Sink:
    def __init__(self, directory):
        self.directory = directory
        self.count = 0

    def refusal(self):
        try:
            with open(os.path.join(self.directory, "refuse")) as f:
                code = f.read().strip()
        except FileNotFoundError:
            return None
        return f"{code} {REPLIES.get(code[:1], 'Refused (test sink)')}"

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        refusal = self.refusal()
        if refusal:
            return refusal
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        raw = envelope.original_content or envelope.content
        message = email.message_from_bytes(raw, policy=email.policy.default)
        body = message.get_body(preferencelist=("plain",))
        record = {
            "mail_from": envelope.mail_from,
            "rcpt_tos": list(envelope.rcpt_tos),
            "headers": [[name, str(value)] for name, value in message.items()],
            "text": body.get_content() if body is not None else None,
            "raw": raw.decode("utf-8", errors="replace"),
        }
        self.count += 1
        name = os.path.join(self.directory, f"{self.count:06}.json")
        with open(name + ".tmp", "w", encoding="utf-8") as f:
            json.dump(record, f, ensure_ascii=False)
        os.replace(name + ".tmp", name)
        return "250 2.0.0 OK"


async def main(directory):
    sink = Sink(directory)
    loop = asyncio.get_running_loop()
    # Port 0: the system picks a free port, so parallel tests never collide.
    server = await loop.create_server(
        lambda: SMTP(sink, decode_data=False, enable_SMTPUTF8=True, hostname="sink.test"),
        host="127.0.0.1",
        port=0,
    )
    print(server.sockets[0].getsockname()[1], flush=True)
    await server.serve_forever()


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1]))
