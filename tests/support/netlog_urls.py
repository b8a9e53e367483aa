#!/usr/bin/python3
"""Prints the URLs a page asked for, from a Chromium --log-net-log file.

Chromium's own traffic (update checks, sign-in) carries no origin ("not an
origin"); whatever the page requests carries the page's origin ("null" for a
file: page). Usage: netlog_urls.py NETLOG.json
"""
import json
import sys

text = open(sys.argv[1]).read().rstrip().rstrip(",")
try:
    log = json.loads(text)
except ValueError:
    # Chromium may exit before closing the event list.
    log = json.loads(text + "]}")
names = {v: k for k, v in log["constants"]["logEventTypes"].items()}
urls = set()
for ev in log.get("events", []):
    p = ev.get("params") or {}
    if names.get(ev.get("type")) == "URL_REQUEST_START_JOB" and p.get("url") \
            and p.get("initiator") != "not an origin":
        urls.add(p["url"])
for u in sorted(urls):
    print(u)
