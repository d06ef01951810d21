#!/usr/bin/env bash
# Installs the servers imsentinel's tests and demo run for real: redis-server,
# redis-cli, redis-sentinel (benchmarks), mariadbd and the mariadb client.
#
# It installs only what is missing, with the system package manager (Debian or
# Ubuntu: apt-get). Where it cannot (not root and no passwordless sudo, or no
# apt-get), it prints the exact command to run and exits 1.
#
#   scripts/install-deps.sh          install what is missing
#   scripts/install-deps.sh --check  only report; exit 1 when something is missing
set -euo pipefail

check_only=0
[ "${1:-}" = "--check" ] && check_only=1

# binary -> Debian package
declare -A pkg_of=(
  [redis-server]=redis-server
  [redis-cli]=redis-tools
  [redis-sentinel]=redis-sentinel
  [mariadbd]=mariadb-server
  [mariadb-install-db]=mariadb-server
  [mariadb]=mariadb-client
)

# mariadbd lives in /usr/sbin, which a non-root PATH may lack.
export PATH="$PATH:/usr/sbin:/sbin"

missing=()
for bin in redis-server redis-cli redis-sentinel mariadbd mariadb-install-db mariadb; do
  if ! command -v "$bin" >/dev/null 2>&1; then
    p=${pkg_of[$bin]}
    case " ${missing[*]:-} " in *" $p "*) ;; *) missing+=("$p") ;; esac
  fi
done

if [ ${#missing[@]} -eq 0 ]; then
  echo "install-deps: all servers present (redis-server, redis-cli, redis-sentinel, mariadbd, mariadb)"
  exit 0
fi

cmd="apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends ${missing[*]}"

if [ $check_only -eq 1 ]; then
  echo "install-deps: missing packages: ${missing[*]}"
  echo "install-deps: install them with: sudo sh -c '$cmd'"
  exit 1
fi

if ! command -v apt-get >/dev/null 2>&1; then
  echo "install-deps: missing packages: ${missing[*]}, and there is no apt-get on this machine." >&2
  echo "install-deps: install the equivalents of these Debian packages with your package manager: ${missing[*]}" >&2
  exit 1
fi

sudo=""
if [ "$(id -u)" -ne 0 ]; then
  if command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
    sudo="sudo"
  else
    echo "install-deps: missing packages: ${missing[*]}; installing them needs root." >&2
    echo "install-deps: run: sudo sh -c '$cmd'" >&2
    exit 1
  fi
fi

echo "install-deps: installing ${missing[*]}"
# policy-rc.d keeps Debian's maintainer scripts from starting system-wide
# redis/mariadb services: the tests start their own on free ports.
policy=/usr/sbin/policy-rc.d
made_policy=0
if [ ! -e "$policy" ]; then
  $sudo sh -c "printf '#!/bin/sh\nexit 101\n' > $policy && chmod 755 $policy"
  made_policy=1
fi
trap '[ $made_policy -eq 1 ] && $sudo rm -f $policy' EXIT
$sudo apt-get update -qq
$sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}"
echo "install-deps: done"
