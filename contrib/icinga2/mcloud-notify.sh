#!/bin/sh
# mcloud-notify.sh: Icinga2 notification script that posts one host or
# service notification to mcloud's /alerts/icinga2 receiver as JSON.
# Icinga2 passes everything in the environment (see mcloud.conf next to
# this file); the token comes from the environment too, never from the
# command line, so it does not show in `ps`.
#
#   MCLOUD_URL     https://mcloud.example.net/alerts/icinga2   (required)
#   MCLOUD_TOKEN   bearer token (alerts.icinga2.token in mcloud.yaml), or
#   MCLOUD_USER / MCLOUD_PASSWORD for basic auth
#   NOTIFICATIONTYPE PROBLEM|RECOVERY|ACKNOWLEDGEMENT|DOWNTIMESTART|DOWNTIMEEND|...
#   HOSTNAME HOSTADDRESS SERVICENAME (empty for a host notification)
#   HOSTSTATE HOSTOUTPUT SERVICESTATE SERVICEOUTPUT AUTHOR COMMENT
#   CUSTOMER (the host's vars.customer, optional)
#
# Exit status: 0 delivered; 1 refused by mcloud (4xx: fix the setup);
# 2 mcloud unreachable or busy after retries (5xx).
set -u

: "${MCLOUD_URL:?MCLOUD_URL is not set}"

# A service notification reports the service's state, a host one the host's.
if [ -n "${SERVICENAME:-}" ]; then
	STATE=${SERVICESTATE:-} OUTPUT=${SERVICEOUTPUT:-}
else
	STATE=${HOSTSTATE:-} OUTPUT=${HOSTOUTPUT:-}
fi

# json prints $1 as a JSON string: backslash, quote and control characters escaped.
json() {
	printf '%s' "$1" | sed -e 's/\\/\\\\/g' -e 's/"/\\"/g' -e 's/	/\\t/g' -e 's/\r/\\r/g' |
		awk 'BEGIN { ORS = "" } NR > 1 { print "\\n" } { print }' |
		tr -d '\000-\010\013\014\016-\037' | { printf '"'; cat; printf '"'; }
}

body=$(printf '{"type":%s,"host":%s,"address":%s,"service":%s,"state":%s,"output":%s,"author":%s,"comment":%s,"customer":%s,"time":%s}' \
	"$(json "${NOTIFICATIONTYPE:-}")" "$(json "${HOSTNAME:-}")" "$(json "${HOSTADDRESS:-}")" \
	"$(json "${SERVICENAME:-}")" "$(json "${STATE:-}")" "$(json "${OUTPUT:-}")" \
	"$(json "${AUTHOR:-}")" "$(json "${COMMENT:-}")" "$(json "${CUSTOMER:-}")" "$(date +%s)")

auth_header=""
if [ -n "${MCLOUD_TOKEN:-}" ]; then
	auth_header="Authorization: Bearer ${MCLOUD_TOKEN}"
fi

tries=0
while :; do
	tries=$((tries + 1))
	if [ -n "$auth_header" ]; then
		code=$(curl -sS -o /dev/null -w '%{http_code}' --max-time 10 \
			-H 'Content-Type: application/json' -H @- --data-binary "$body" "$MCLOUD_URL" <<HDR
$auth_header
HDR
)
	else
		code=$(curl -sS -o /dev/null -w '%{http_code}' --max-time 10 -u "${MCLOUD_USER:-}:${MCLOUD_PASSWORD:-}" \
			-H 'Content-Type: application/json' --data-binary "$body" "$MCLOUD_URL")
	fi
	case "$code" in
	2??) exit 0 ;;
	4??) echo "mcloud-notify: mcloud refused the notification (HTTP $code)" >&2; exit 1 ;;
	esac
	if [ "$tries" -ge 5 ]; then
		echo "mcloud-notify: mcloud did not take the notification (HTTP ${code:-none}) after $tries tries" >&2
		exit 2
	fi
	sleep $((tries * 2))
done
