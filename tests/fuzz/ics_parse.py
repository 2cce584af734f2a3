"""Reads an iCalendar feed from standard input with the `icalendar` package and prints it as JSON:
the calendar's properties and each event's uid, summary, description, url, dtstart and dtend (ISO
dates). An independent parser for tests/src/mail.rs's parse_ics: what it reads is what calendar
applications read.
"""

import json
import sys

import icalendar


def text(value):
    return None if value is None else str(value)


def prop(value):
    """A calendar property as text: TEXT unescaped; other types (a duration, a property this
    package does not know, such as X-WR-CALNAME) as written."""
    if isinstance(value, (str, icalendar.vText)):
        return str(value)
    if isinstance(value, bytes):
        return value.decode()
    return value.to_ical().decode()


def day(component, name):
    value = component.get(name)
    return None if value is None else value.dt.isoformat()


def main():
    # Bytes, not text: the feed's CRLF line ends reach the parser as they are.
    calendar = icalendar.Calendar.from_ical(sys.stdin.buffer.read())
    properties = {
        name: prop(value)
        for name, value in calendar.property_items(recursive=False)
        if name not in ("BEGIN", "END")
    }
    events = [
        {
            "uid": text(event.get("UID")),
            "summary": text(event.get("SUMMARY")),
            "description": text(event.get("DESCRIPTION")),
            "url": text(event.get("URL")),
            "dtstart": day(event, "DTSTART"),
            "dtend": day(event, "DTEND"),
            "dtstamp": event.get("DTSTAMP").dt.isoformat() if event.get("DTSTAMP") else None,
            "transp": text(event.get("TRANSP")),
        }
        for event in calendar.walk("VEVENT")
    ]
    json.dump({"calendar": properties, "events": events}, sys.stdout, ensure_ascii=False)


if __name__ == "__main__":
    main()
