#!/usr/bin/env bash
# What the tests use from the system, checked before `npm test` and by CI.
# As root with apt-get (Debian, Ubuntu) or dnf (Fedora) it installs what is
# missing and says so; anywhere else it names the exact command and goes on:
# the tests that need a missing tool then skip loudly (or fail under
# BPF_LOAD_REQUIRE_KERNEL=1).
#   bash scripts/preflight.sh            check, install what it can
#   bash scripts/preflight.sh --check    check and name what is missing, install nothing
set -uo pipefail

install=yes
[ "${1:-}" = "--check" ] && install=no

# tool  debian-package  fedora-package  what-for
TOOLS=(
  "clang        clang       clang       fixtures and the guide's example: clang -target bpf"
  "llvm-objdump llvm        llvm        disassembly in fixture checks"
  "bpftool      bpftool     bpftool     reading kernel state back as an independent oracle"
  "ip           iproute2    iproute     network namespaces and veth pairs"
  "tc           iproute2    iproute-tc  the tc interop tests"
  "setpriv      util-linux  util-linux  running the CLI unprivileged"
  "unshare      util-linux  util-linux  private mount namespaces"
  "cc           gcc         gcc         C baselines (benchmark, struct layouts, test senders)"
  "tcpdump      tcpdump     tcpdump     reading the pcap files the samples write"
  "strace       strace      strace      the system calls of a load, checked against a C loader's"
  "prometheus   prometheus  golang-github-prometheus  a real Prometheus scraping the metrics command"
)
# header  debian-package  fedora-package  what-for
HEADERS=(
  "/usr/include/bpf/bpf_helpers.h  libbpf-dev      libbpf-devel    building the example of docs/writing-objects.md"
  "/usr/include/linux/bpf.h        linux-libc-dev  kernel-headers  the same"
)

missing_tools=()
debian_packages=()
fedora_packages=()
note_missing() { # what debian-package fedora-package
  missing_tools+=("$1")
  [[ " ${debian_packages[*]} " == *" $2 "* ]] || debian_packages+=("$2")
  [[ " ${fedora_packages[*]} " == *" $3 "* ]] || fedora_packages+=("$3")
}
for row in "${TOOLS[@]}"; do
  read -r tool debian fedora _ <<<"$row"
  command -v "$tool" >/dev/null 2>&1 || note_missing "$tool" "$debian" "$fedora"
done
for row in "${HEADERS[@]}"; do
  read -r header debian fedora _ <<<"$row"
  [ -e "$header" ] || note_missing "$header" "$debian" "$fedora"
done

if [ ${#missing_tools[@]} -gt 0 ]; then
  if [ "$install" = yes ] && [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    echo "preflight: installing ${debian_packages[*]} (for ${missing_tools[*]})"
    export DEBIAN_FRONTEND=noninteractive
    if ! { apt-get update -qq && apt-get install -y -qq --no-install-recommends "${debian_packages[@]}" >/dev/null; }; then
      echo "preflight: apt-get could not install ${debian_packages[*]}: tests that need them will skip (or fail in CI)" >&2
    fi
  elif [ "$install" = yes ] && [ "$(id -u)" = 0 ] && command -v dnf >/dev/null 2>&1; then
    echo "preflight: installing ${fedora_packages[*]} (for ${missing_tools[*]})"
    dnf install -y -q "${fedora_packages[@]}" || echo "preflight: dnf could not install ${fedora_packages[*]}" >&2
  else
    echo "preflight: missing ${missing_tools[*]}; tests that need them will skip. Install them with:" >&2
    if command -v dnf >/dev/null 2>&1; then
      echo "  sudo dnf install ${fedora_packages[*]}" >&2
    else
      echo "  sudo apt-get install ${debian_packages[*]}" >&2
    fi
  fi
fi

# bpffs for pinning and tracefs for tracepoints, mounted as a distribution would
if [ "$install" = yes ] && [ "$(id -u)" = 0 ]; then
  if ! mountpoint -q /sys/fs/bpf 2>/dev/null; then
    mkdir -p /sys/fs/bpf && mount -t bpf bpf /sys/fs/bpf && echo "preflight: mounted bpffs at /sys/fs/bpf"
  fi
  if [ ! -e /sys/kernel/tracing/events ] && [ -d /sys/kernel/tracing ]; then
    mount -t tracefs tracefs /sys/kernel/tracing 2>/dev/null && echo "preflight: mounted tracefs at /sys/kernel/tracing"
  fi
fi
exit 0
