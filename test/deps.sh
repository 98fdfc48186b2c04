#!/usr/bin/env bash
# The Debian packages the test suite uses, checked before it runs (`npm test`, `.ci/run`).
# Missing ones are installed when this user may (root, or sudo without a password); otherwise
# one line names the command to run, and the exit status is 1. Takes well under a second when
# everything is there. RXSMP_TEST_DEPS=check only checks (never installs).
set -uo pipefail

# One entry per need: "package what-proves-it-is-there" (a command on PATH, or a file), and who needs it.
DEPS=(
  "chromium ${CHROMIUM:-chromium}"   # test/report.test.ts drives it with playwright-core (CHROMIUM: another binary)
  "tshark tshark"                    # test/replay.test.ts, test/tap.test.ts read captures with it
  "tshark text2pcap"                 # test/replay.test.ts writes captures with it (tshark brings wireshark-common)
  "redis-server redis-server"        # test/queue.test.ts starts its own Redis on a free loopback port (test/redis.ts)
  "openssl openssl"                  # test/queue.test.ts makes the certificates of its TLS Redis
  "clang clang"                      # test/xdp_build.ts builds test/xdp/*.c into BPF objects (clang -target bpf)
  "llvm llvm-objdump"                # ... and its tests read them back with llvm's tools
  "libbpf-dev /usr/include/bpf/bpf_helpers.h"   # ... against libbpf's headers, as a user does
)

have() { if [[ $1 == /* ]]; then [[ -e $1 ]]; else command -v "$1" >/dev/null 2>&1; fi; }

missing=()
for entry in "${DEPS[@]}"; do
  read -r pkg probe <<<"$entry"
  if ! have "$probe" && [[ " ${missing[*]} " != *" $pkg "* ]]; then missing+=("$pkg"); fi
done
[[ ${#missing[@]} -eq 0 ]] && exit 0

cmd="apt-get install -y ${missing[*]}"
if [[ ${RXSMP_TEST_DEPS:-} != check ]] && command -v apt-get >/dev/null 2>&1; then
  sudo=()
  if [[ $(id -u) -ne 0 ]]; then
    if command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then sudo=(sudo -n); else sudo=(none); fi
  fi
  if [[ ${sudo[0]:-} != none ]]; then
    echo "test/deps.sh: installing ${missing[*]} (the tests use them)" >&2
    if "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get update -qq >&2 &&
      "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >&2; then
      exit 0
    fi
    echo "test/deps.sh: installing ${missing[*]} failed (above); run: sudo $cmd" >&2
    exit 1
  fi
fi
echo "test/deps.sh: the tests need ${missing[*]}, not installed; run: sudo $cmd" >&2
exit 1
