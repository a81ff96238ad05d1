#!/usr/bin/env bash
# Three minstore nodes on 127.0.0.1 (ports 8101-8103), shown in action: mirror, bridge, cache and a
# lookup. Run from the repository after `npm ci`: bash examples/three-nodes.sh. Everything lives in
# a temp folder and every node is stopped at the end.
set -euo pipefail
cd "$(dirname "$0")/.."
npm run build --silent
dir=$(mktemp -d)
trap 'kill $(jobs -p) 2>/dev/null; wait 2>/dev/null; rm -rf "$dir"' EXIT
export MINSTORE_CLUSTER_SECRET=$(head -c 16 /dev/urandom | od -An -tx1 | tr -d ' \n')   # one secret for the cluster

# n1 mirrors to n2 and n3. n2 bridges ("*" first) to n3. n3 lists nobody.
printf 'http://127.0.0.1:8102\nhttp://127.0.0.1:8103\n' > "$dir/n1.list"
printf '*\nhttp://127.0.0.1:8103\n'                      > "$dir/n2.list"
printf ''                                                > "$dir/n3.list"
for n in 1 2 3; do
  node dist/server.js "$dir/n$n.list" "$dir/n$n" 810$n --processes mark > "$dir/n$n.log" 2>&1 &
done
until curl -sf localhost:8101/healthz >/dev/null && curl -sf localhost:8102/healthz >/dev/null && curl -sf localhost:8103/healthz >/dev/null; do sleep 0.2; done
show() { echo "\$ $*"; "$@"; echo; echo; }

echo "--- mirror: a write on n1 reaches n2 and n3, processed once (one \"(Marked).\")"
show curl -s -X POST localhost:8101/text/hello -d value=bonjour
sleep 0.3
show curl -s 'localhost:8102/text/hello?local=1'
show curl -s 'localhost:8103/text/hello?local=1'

echo "--- bridge: n2 spreads its own writes to n3, marked so that n3 would spread them on too"
show curl -s -X POST localhost:8102/text/bridged -d value=onwards
sleep 0.3
show curl -s 'localhost:8103/text/bridged?local=1'

echo "--- lookup: n1 never received 'bridged', so a GET there asks its peers"
show curl -s localhost:8101/text/bridged

echo "--- cache: n3 has no dependants; n1 does: cache=1 bounces to n2 and n3 and keeps the answer"
show curl -s -i -X POST 'localhost:8101/text/cached?cache=1' -d value=remembered
show curl -s -i 'localhost:8101/text/cached?cache=1'

echo "--- delete on n1: tombstones on all three"
show curl -s -X DELETE localhost:8101/text/hello
sleep 0.3
show curl -s 'localhost:8103/text/hello?local=1'

echo "--- n1's outbox, per peer"
show curl -s localhost:8101/_status
