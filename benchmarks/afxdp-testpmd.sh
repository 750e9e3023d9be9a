#!/usr/bin/env bash
# afxdp-testpmd.sh: DPDK testpmd with net_af_xdp, and ringkit's AF_XDP
# benchmarks, on one veth test bed and one sender, back to back.
#
# The bed lives in two network namespaces made here and deleted on exit
# (also on failure and Ctrl-C): "send" holds vsend and vback, "recv" holds
# vrecv and vout; vsend-vrecv and vout-vback are veth pairs. Nothing is
# attached to or sent on an interface of the machine's own namespace, and
# every sender stops by itself after DURATION seconds.
#
#   send ns                              recv ns
#   vethsend ─► vsend ══ veth ══ vrecv ─► testpmd port 0 / ringkit AF_XDP
#               vback ══ veth ══ vout  ◄─ testpmd port 1 (io) / ringkit (forward)
#
# Runs, each with the sender (cmd/vethsend: 60-byte frames at full rate
# through a TPACKET_V2 ring with qdisc bypass) going:
#   1. testpmd --forward-mode=rxonly on net_af_xdp0 (vrecv)
#   2. testpmd --forward-mode=io between net_af_xdp0 (vrecv) and net_af_xdp1 (vout)
#   3. ringkit: BenchmarkXDPReceive and BenchmarkXDPForward (they make
#      their own bed the same way, in code), unless SKIP_GO=1.
# and prints, for testpmd, the packets the sender's link counted and those
# testpmd received (and forwarded), and the rates.
#
# Needs root and testpmd (apt-get install dpdk-dev). testpmd runs without
# hugepages: --no-huge -m 512 --no-pci, --total-num-mbufs=8192.
#
#   sudo benchmarks/afxdp-testpmd.sh            # DURATION=10 by default
#   DURATION=5 SKIP_GO=1 sudo benchmarks/afxdp-testpmd.sh
set -euo pipefail

DURATION=${DURATION:-10}
BENCHTIME=${BENCHTIME:-2000000x}
here=$(cd "$(dirname "$0")" && pwd)
id=$$
ns_send=rkb-send-$id
ns_recv=rkb-recv-$id
tmp=$(mktemp -d)
sender_pid=

cleanup() {
	set +e
	[ -n "$sender_pid" ] && kill "$sender_pid" 2>/dev/null && wait "$sender_pid" 2>/dev/null
	ip netns del "$ns_send" 2>/dev/null
	ip netns del "$ns_recv" 2>/dev/null
	rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

command -v dpdk-testpmd >/dev/null || { echo "afxdp-testpmd: dpdk-testpmd not found (apt-get install dpdk-dev)" >&2; exit 1; }
[ "$(id -u)" = 0 ] || { echo "afxdp-testpmd: needs root" >&2; exit 1; }

echo "building the sender"
(cd "$here" && go build -o "$tmp/vethsend" ./cmd/vethsend)

in_send() { ip netns exec "$ns_send" "$@"; }
in_recv() { ip netns exec "$ns_recv" "$@"; }

ip netns add "$ns_send"
ip netns add "$ns_recv"
for ns in "$ns_send" "$ns_recv"; do
	# No IPv6: the kernel sends nothing of its own on the bed's links.
	ip netns exec "$ns" sysctl -qw net.ipv6.conf.default.disable_ipv6=1 net.ipv6.conf.all.disable_ipv6=1
	ip -n "$ns" link set lo up
done
ip -n "$ns_recv" link add vrecv type veth peer name vsend netns "$ns_send"
ip -n "$ns_recv" link add vout type veth peer name vback netns "$ns_send"
for l in vrecv vout; do ip -n "$ns_recv" link set "$l" up; done
for l in vsend vback; do ip -n "$ns_send" link set "$l" up; done
recv_mac=$(in_recv cat /sys/class/net/vrecv/address)

counter() { ip netns exec "$1" cat "/sys/class/net/$2/statistics/$3"; }

# port0 FIELD: the values testpmd printed for FIELD (RX-packets,
# RX-missed, Rx-pps, ...) in port 0's NIC statistics, one a line, the
# last one at its exit.
port0() {
	awk -v f="$1" '
		/NIC statistics for port/ { port = $(NF-1) }
		port == "0" { for (i = 1; i < NF; i++) if ($i == f":") print $(i+1) }' "$tmp/testpmd.out"
}

# median: the median of the non-zero numbers on standard input, 0 if none.
median() {
	grep -v '^0$' | sort -n | awk '{ v[n++] = $1 } END { print n ? v[int(n/2)] : 0 }'
}

# testpmd MODE VDEVS...: runs testpmd in the receiving namespace, starts
# the sender once testpmd is up, for DURATION seconds, and reports what
# testpmd received of what the sender's link counted.
testpmd() {
	local mode=$1
	shift
	local vdevs=()
	for v in "$@"; do vdevs+=(--vdev "$v"); done
	# SIGINT at the end: testpmd prints its totals and exits.
	in_recv timeout -s INT "$((DURATION + 5))" dpdk-testpmd --no-huge -m 512 --no-pci --file-prefix "rkb$id" \
		--log-level=lib.eal:error "${vdevs[@]}" -- \
		--total-num-mbufs=8192 --forward-mode="$mode" --stats-period=1 --nb-cores=1 >"$tmp/testpmd.out" 2>&1 &
	local tp=$!
	sleep 2 # testpmd is up and forwarding
	local sent0 sent1
	sent0=$(counter "$ns_send" vsend tx_packets)
	in_send "$tmp/vethsend" -iface vsend -dst "$recv_mac" -duration "${DURATION}s" >"$tmp/sender.out" 2>&1
	sleep 1 # what is in flight arrives
	sent1=$(counter "$ns_send" vsend tx_packets)
	wait "$tp" || true
	cp "$tmp/testpmd.out" "${TESTPMD_LOG:-/dev/null}" 2>/dev/null || true
	local rx missed pps
	rx=$(port0 RX-packets | tail -1)
	if [ -z "$rx" ]; then
		echo "testpmd $mode: no statistics; its output:" >&2
		tail -30 "$tmp/testpmd.out" >&2
		return 1
	fi
	missed=$(port0 RX-missed | tail -1)
	pps=$(port0 Rx-pps | median)
	local sent=$((sent1 - sent0))
	awk -v m="$mode" -v s="$sent" -v r="$rx" -v x="$missed" -v p="$pps" -v d="$DURATION" 'BEGIN {
		printf "testpmd %s: sender counted %d, port 0 received %d (%.4f of sent), missed %d; %.3f Mpps over the run, %.3f Mpps median second\n",
			m, s, r, (s ? r / s : 0), x, r / d / 1e6, p / 1e6 }'
	cat "$tmp/sender.out"
}

testpmd rxonly "net_af_xdp0,iface=vrecv"
testpmd io "net_af_xdp0,iface=vrecv" "net_af_xdp1,iface=vout"

if [ "${SKIP_GO:-0}" != 1 ]; then
	echo "ringkit:"
	(cd "$here/.." && go test -run XXX -bench 'BenchmarkXDP(Receive|Forward)' -benchtime "$BENCHTIME" ./linuxport/)
fi
