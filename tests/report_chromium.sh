#!/usr/bin/env bash
# The HTML reports in a real browser: Debian's chromium, headless. For the
# demo tenant's report and the MSP overview (the golden files, which
# test_report keeps byte-identical to what `dmarcsift report` writes):
#   - the page renders with no console message (a CSP violation, a script
#     error or a failed load would each log one);
#   - a screenshot is taken and kept (ARTIFACTS/NAME.png);
#   - the rendered DOM's charts hold one point per day with a rate and one
#     bar per day (tenant) / per tenant (overview), counted against the
#     JSON report of the same data;
#   - Chromium's network log shows no request other than the file itself.
# Usage: report_chromium.sh EXPECTED_DIR ARTIFACTS_DIR
set -euo pipefail
exp=$(realpath "$1")
mkdir -p "$2"
art=$(realpath "$2")
chrome=$(command -v chromium || command -v chromium-browser || true)
if [ -z "$chrome" ]; then
	echo "report_chromium: chromium is not installed (scripts/test.sh installs it: apt-get install chromium)" >&2
	exit 1
fi
py=/usr/bin/python3
profile=$(mktemp -d /tmp/dmarcsift-chromium.XXXXXX)
trap 'rm -rf "$profile"' EXIT
flags=(--headless=new --no-sandbox --disable-gpu --no-first-run --no-default-browser-check
	--disable-background-networking --disable-component-update --disable-sync
	--disable-default-apps --disable-extensions --user-data-dir="$profile"
	--enable-logging=stderr --v=0 --window-size=1000,2400)
fail=0
# The detector must see a page's request: a control page without our CSP
# loads an image from loopback, and its request has to show in the log.
cat >"$art/control.html" <<'HTML'
<!DOCTYPE html><html><body><img src="http://127.0.0.1:9/dmarcsift-control.png"></body></html>
HTML
timeout 120 "$chrome" "${flags[@]}" --log-net-log="$art/control.netlog.json" \
	--screenshot="$art/control.png" "file://$art/control.html" >/dev/null 2>&1 || true
if ! "$py" "$(dirname "$0")/support/netlog_urls.py" "$art/control.netlog.json" |
	grep -q '^http://127.0.0.1:9/dmarcsift-control.png$'; then
	echo "report_chromium: the network log does not show a control page's request; cannot check" >&2
	exit 1
fi
for name in report-demo report-overview; do
	html="$exp/$name.html"
	[ -f "$html" ] || { echo "report_chromium: missing $html" >&2; exit 1; }
	rm -f "$art/$name.png" "$art/$name.netlog.json"
	timeout 120 "$chrome" "${flags[@]}" --log-net-log="$art/$name.netlog.json" \
		--screenshot="$art/$name.png" "file://$html" 2>"$art/$name.stderr" >/dev/null || true
	timeout 120 "$chrome" "${flags[@]}" --dump-dom "file://$html" \
		>"$art/$name.dom.html" 2>>"$art/$name.stderr" || true
	"$py" - "$name" "$exp/$name.json" "$art" "$(dirname "$0")/support/netlog_urls.py" <<'PY' || fail=1
import json, re, sys
name, jpath, art = sys.argv[1], sys.argv[2], sys.argv[3]
problems = []
err = open(f"{art}/{name}.stderr", errors="replace").read()
# Chromium logs page console output as CONSOLE(...) lines; CSP refusals as "Refused to".
for line in err.splitlines():
    if "CONSOLE" in line or "Refused to" in line or "Uncaught" in line:
        problems.append("console: " + line.strip())
png = open(f"{art}/{name}.png", "rb").read() if __import__("os").path.exists(f"{art}/{name}.png") else b""
if not png.startswith(b"\x89PNG") or len(png) < 5000:
    problems.append("no screenshot")
dom = open(f"{art}/{name}.dom.html", errors="replace").read()
if "</html>" not in dom:
    problems.append("the page did not render (no DOM dump)")
doc = json.load(open(jpath))
def svg(key):
    m = re.search(r'<svg[^>]*data-chart="%s".*?</svg>' % key, dom, re.S)
    return m.group(0) if m else ""
if doc["kind"] == "tenant":
    rows = doc["tables"]["daily"]["rows"]
    points = sum(1 for r in rows for k in ("dmarc_pass_rate", "dkim_pass_rate", "spf_pass_rate") if r[k] is not None)
    got_points = svg("pass_rate").count('<circle class="pt"')
    got_bars = svg("volume").count('<g class="bar">')
    if got_points != points:
        problems.append(f"pass-rate chart: {got_points} points, want {points}")
    if got_bars != len(rows):
        problems.append(f"volume chart: {got_bars} bars, want {len(rows)}")
else:
    rows = doc["tables"]["tenants"]["rows"]
    got = svg("tenant_pass_rate").count('<g class="bar">')
    if got != len(rows):
        problems.append(f"tenant chart: {got} bars, want {len(rows)}")
# The network log: every URL the page asked for (netlog_urls.py).
import subprocess
urls = subprocess.run([sys.executable, sys.argv[4], f"{art}/{name}.netlog.json"],
                      capture_output=True, text=True, check=True).stdout.split()
external = [u for u in urls if not (u.startswith("file:") or u.startswith("data:"))]
if external:
    problems.append("external requests: " + ", ".join(external[:5]))
if problems:
    print(f"report_chromium: {name}: FAIL")
    for p in problems:
        print("  " + p)
    sys.exit(1)
print(f"report_chromium: {name}: ok ({len(urls)} URL(s) requested, all local; screenshot {art}/{name}.png)")
PY
done
exit $fail
