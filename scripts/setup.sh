#!/usr/bin/env bash
# The README's first command: installs what is missing, builds, starts the
# private embedded PostgreSQL cluster, ingests the bundled fixtures and says
# where the results are and what to run next.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/deps.sh
# unbound: the local DNS server that names the fixtures' sources, answers for the
# blocklists and serves the test domains' records below.
ensure_packages $DMARCSIFT_PACKAGES unbound

echo "== building"
cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build build -j"$(nproc 2>/dev/null || echo 2)" >/dev/null
echo "built build/dmarcsift"

echo "== starting the embedded database"
build/dmarcsift db start

echo "== starting a local DNS server for the fixtures' sources"
# The fixtures use documentation addresses: a local DNS server (unbound, on a
# loopback port, no root needed) serves our zone data for them, and nothing
# is asked of the Internet.
dnsdir="${XDG_DATA_HOME:-$HOME/.local/share}/dmarcsift/dns-fixtures"
DMARCSIFT_DNS_SERVERS=$(scripts/dns-test-server.sh start "$dnsdir")
export DMARCSIFT_DNS_SERVERS
echo "local DNS server with the fixtures' zone data: $DMARCSIFT_DNS_SERVERS (stop: scripts/dns-test-server.sh stop $dnsdir)"

echo "== the demo tenant (owns the fixtures' domains; adding them again is a no-op)"
build/dmarcsift tenant add demo example.com example.org shop.example
# Its reports read as its own role, which sees no other tenant.
build/dmarcsift tenant grant demo dmarcsift_demo_reader
echo "== ingesting the bundled fixtures: aggregate, SMTP TLS and failure reports, and what else a"
echo "   rua=/ruf= mailbox receives (fixtures/hostile/ and the tlsrpt/hostile-* files are"
echo "   deliberately broken inputs: those are quarantined)"
set +e
build/dmarcsift ingest --quiet fixtures/reports fixtures/archives fixtures/mail fixtures/hostile fixtures/sources \
	fixtures/tlsrpt fixtures/ruf fixtures/route
rc=$?
set -e
if [ "$rc" -ge 2 ]; then
	echo "ingest failed with exit code $rc" >&2
	exit "$rc"
fi
echo "== ingesting the bundled bounce records (the logs hold deliberately malformed lines: those are counted)"
b=fixtures/bounces
build/dmarcsift bounces ingest $b/postfix.log $b/postfix_spike.log $b/exim_main.log \
	$b/dsn_multi.eml $b/esp_export.csv
echo "== naming the sending sources (reverse DNS, ASN, known services)"
build/dmarcsift sources resolve
url=$(build/dmarcsift db url)
echo
echo "== what is in the database now"
psql -X -q "$url" -c "SELECT tenant, count(*) AS reports, sum(records) AS records, sum(messages) AS messages FROM dmarcsift.v_reports GROUP BY tenant ORDER BY tenant"
psql -X -q "$url" -c "SELECT policy_domain, org_name, disposition, dkim, spf, sum(count) AS messages FROM dmarcsift.v_records GROUP BY 1,2,3,4,5 ORDER BY 6 DESC LIMIT 15"
echo "== reports kept although a value was outside the schema (v_reports.complaint says which)"
psql -X -q "$url" -c "SELECT org_name, report_id, records, left(complaint, 90) AS complaint FROM dmarcsift.v_reports WHERE recovered ORDER BY report_id LIMIT 10"
echo "== SMTP TLS reports (RFC 8460)"
psql -X -q "$url" -c "SELECT tenant, org_name, policy_domain, policy_type, successful_sessions, failed_sessions, jsonb_array_length(failures) AS failure_details FROM dmarcsift.v_tls ORDER BY begin_at, policy_domain"
echo "== DMARC failure reports (RFC 6591; headers only unless [ruf] keep_body = true)"
psql -X -q "$url" -c "SELECT tenant, arrival_at, source_ip, auth_failure, reported_domain, delivery_result, layout FROM dmarcsift.v_failure_reports ORDER BY arrival_at"
echo "== who is behind the sources (dmarcsift.v_sources)"
psql -X -q "$url" -c "SELECT source_ip, ptr, ptr_confirmed, asn, as_name, service, service_type, forwarded, messages, dmarc_pass_rate FROM dmarcsift.v_sources WHERE ptr IS NOT NULL OR service IS NOT NULL ORDER BY messages DESC"
echo "== suppressed recipients (hard bounces; policy, auth and reputation rejects never suppress)"
build/dmarcsift suppressions
echo
echo "== open escalations (rejects that repeat at one provider)"
build/dmarcsift escalations
echo
echo "== the correlator's story (fixtures/correlate/, see its README.md): one tenant per"
echo "   sending organisation, their providers' aggregate reports, then their rejects"
c=fixtures/correlate
for t in acme-co:acme.example bravo:bravo.example charlie:charlie.example echo:echo.example \
	foxtrot:foxtrot.example golf:golf.example hotel:hotel.example; do
	build/dmarcsift tenant add "${t%%:*}" "${t#*:}" >/dev/null
done
build/dmarcsift ingest --quiet --no-correlate $c/s1-esp-dkim/*.xml $c/s2-*/*.xml $c/s3-*/*.xml \
	$c/s4-*/*.xml $c/s5-*/*.xml $c/s7-*/*.xml $c/s8-*/*.xml
build/dmarcsift bounces ingest --no-correlate $c/s1-esp-dkim/esp-2026-11-10.csv \
	$c/s2-*/exim_main.log $c/s3-*/*.csv $c/s4-*/*.csv $c/s5-*/*.csv $c/s7-*/*.csv >/dev/null
# Postfix does not log its own address: the host map says which IP mail1 sends from.
build/dmarcsift bounces ingest --no-correlate --mta-hosts $c/s8-postfix-hostmap/mta-hosts.tsv \
	$c/s8-postfix-hostmap/postfix.log >/dev/null
build/dmarcsift correlate
echo
echo "== flags: policy rejects tied to the same provider's DMARC data, most severe first"
build/dmarcsift flags
echo
echo "== blocklists: the tenants' sending IPs and domains in the lists (served by the local"
echo "   DNS server above with our zone data; fixtures/dns/zone.conf says what is listed)"
build/dmarcsift blocklists check
echo
echo "== DNS records: each tenant domain's DMARC, SPF, DKIM, MTA-STS and TLS-RPT records, from"
echo "   the same local DNS server (fixtures/dns/records.conf: one good domain, broken ones)"
echo "   against the reports of fixtures/dnscheck/"
build/dmarcsift tenant add dnsgood good.example >/dev/null
build/dmarcsift tenant add dnsbroken broken.example lookups.example void.example syntax.example >/dev/null
build/dmarcsift ingest --quiet --no-correlate fixtures/dnscheck/*.xml fixtures/dnscheck/*.json
build/dmarcsift dns check --tenant dnsgood --fetch-timeout 5
echo
build/dmarcsift dns check --tenant dnsbroken --fetch-timeout 5
echo
echo "== next"
echo "  build/dmarcsift failures                 # what was quarantined, and why"
echo "  build/dmarcsift tenant add acme example.com && build/dmarcsift reprocess --all"
echo "  build/dmarcsift bounces ingest /var/log/mail.log   # your own bounces"
echo "  DMARCSIFT_DNS_SERVERS=$DMARCSIFT_DNS_SERVERS build/dmarcsift sources resolve   # name sources again"
echo "  build/dmarcsift sources label --tenant unassigned 198.51.101.0/24 \"our MTAs\""
echo "  build/dmarcsift flags --kind auth_driven --format json   # the flags for machines"
echo "  DMARCSIFT_DNS_SERVERS=$DMARCSIFT_DNS_SERVERS build/dmarcsift dns check --format json   # record findings"
echo "  psql \"\$(build/dmarcsift db url)\"        # views: v_reports, v_records, v_tls, v_failure_reports, v_flags, v_failures, v_bounces, ..."
echo
echo "The data is in the embedded PostgreSQL cluster: $url"
echo "Report views: psql \"$url\" -c 'SELECT * FROM dmarcsift.v_reports'"
echo
echo "== reports (the fixtures' whole time span: --since all)"
mkdir -p build/reports
build/dmarcsift report --tenant demo --since all --format html --out build/reports/demo.html
build/dmarcsift report --all-tenants --since all --format html --out build/reports/overview.html
echo "HTML report for the demo tenant: $(pwd)/build/reports/demo.html"
echo "MSP overview:                    $(pwd)/build/reports/overview.html"
echo "(text: build/dmarcsift report --tenant demo --since all)"
