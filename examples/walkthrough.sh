#!/bin/sh
# The README's walkthrough as one script: register a device, play Exchange posting one new mail, and see the alert
# reach the APNs sandbox, its decision in the device's event log and the status page. Start the service first
# (`npm start`, in another terminal), then: sh examples/walkthrough.sh  (BASE=http://127.0.0.1:<PORT> for another port).
# Everything after `cd` is the block README shows, for pasting into a shell by hand.
set -eu
cd "$(dirname "$0")/.."

BASE=${BASE:-http://127.0.0.1:8080}
# Prints one field (a dotted path) of the JSON on stdin; Node is there anyway, so no jq is needed.
field() { node -e 'let s = ""; process.stdin.on("data", (d) => (s += d)).on("end", () => console.log(process.argv[1].split(".").reduce((v, k) => v[k], JSON.parse(s))))' "$1"; }

# 1. An organization token for org "acme", signed with ORG_TOKEN_SECRET (unset: the same local default as npm start).
TOKEN=$(npm run -s org-token -- acme)

# 2. Register a device with one mailbox. Its APNs token is 64 random hex characters: the sandbox takes any.
PUSH_TOKEN=$(od -An -N32 -tx1 /dev/urandom | tr -d ' \n')
REGISTERED=$(curl -sS --fail-with-body -X POST "$BASE/v1/devices" \
  -H "authorization: Bearer $TOKEN" -H 'content-type: application/json' \
  -d '{"pushToken":"'"$PUSH_TOKEN"'","mailboxes":[{"id":"me","kind":"primary"}]}')
DEVICE_ID=$(printf '%s' "$REGISTERED" | field deviceId)
DEVICE_SECRET=$(printf '%s' "$REGISTERED" | field deviceSecret)
CALLBACK_URL=$(printf '%s' "$REGISTERED" | field mailboxes.0.callbackUrl)
echo "registered device $DEVICE_ID; Exchange would be subscribed to $CALLBACK_URL"

# 3. Play Exchange: POST one new mail to the mailbox's callback URL. The relay answers a SOAP SendNotificationResult
#    whose SubscriptionStatus is OK once the mail is queued (Unsubscribe would tell Exchange to stop).
echo '--- the callback answers (what Exchange reads):'
curl -sS --fail-with-body -X POST "$CALLBACK_URL" -H 'content-type: text/xml' --data-binary @examples/new-mail.xml
echo

# 4. The alert the APNs sandbox received for this device (the dispatcher sends it a moment after the OK).
echo '--- the push the APNs sandbox received (GET /_local/apns/pushes):'
for attempt in 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 19 20; do
  PUSHES=$(curl -sS --fail-with-body "$BASE/_local/apns/pushes" | PUSH_TOKEN=$PUSH_TOKEN node -e 'let s = ""; process.stdin.on("data", (d) => (s += d)).on("end", () => { const mine = JSON.parse(s).pushes.filter((p) => p.token === process.env.PUSH_TOKEN); if (mine.length) console.log(JSON.stringify(mine.map((p) => ({ status: p.status, pushType: p.headers["apns-push-type"], payload: p.payload })), null, 2)); })')
  [ -n "$PUSHES" ] && break
  sleep 1
done
echo "${PUSHES:-no push yet: see the output of npm start}"

# 5. Why it was pushed: the device's decision log, read with the device secret (not the org token) as bearer.
echo '--- the decision (GET /v1/devices/{id}/events):'
curl -sS --fail-with-body "$BASE/v1/devices/$DEVICE_ID/events" -H "authorization: Bearer $DEVICE_SECRET"
echo

# 6. The operators' view: open it in a browser on this machine.
echo "--- the status page: $BASE/status"
