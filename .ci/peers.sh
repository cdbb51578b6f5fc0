#!/usr/bin/env bash
# The real SMPP peers for tests/peers and the smpp-vs-jasmin-http benchmark
# (ecosystem.md 4.1): the Net::SMPP example SMSC (Debian libnet-smpp-perl), Jasmin 0.11.0
# in its own venv (never 0.11.1: its receipt path is broken), Redis and RabbitMQ.
# Idempotent: a second run installs nothing and takes about a second.
set -euo pipefail

JASMIN_VERSION=0.11.0
export OPENCOMMS_JASMIN_VENV="${OPENCOMMS_JASMIN_VENV:-/opt/opencomms-peers/jasmin-$JASMIN_VERSION}"

log() { printf '[peers] %s\n' "$*"; }

apt_install() {
  local missing=()
  for package in "$@"; do
    dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q 'install ok installed' \
      || missing+=("$package")
  done
  if ((${#missing[@]})); then
    log "installing ${missing[*]}"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
  fi
}

ensure_jasmin() {
  local venv=$OPENCOMMS_JASMIN_VENV
  if [[ -x $venv/bin/jasmind.py ]] && [[ -f $venv/.installed ]]; then
    log "Jasmin $JASMIN_VERSION is in $venv"
    return
  fi
  log "installing Jasmin $JASMIN_VERSION into $venv"
  local python
  python=$(command -v python3.11 || command -v python3)
  rm -rf "$venv"
  mkdir -p "$(dirname "$venv")"
  "$python" -m venv "$venv"
  "$venv/bin/pip" install -q --disable-pip-version-check "jasmin==$JASMIN_VERSION" \
    2> >(grep -v "is ignored: it is neither a file nor a directory" >&2)
  "$venv/bin/python" -c 'import jasmin, txamqp' # the AMQP spec file ships with txamqp
  touch "$venv/.installed"
}

ensure_redis() {
  if redis-cli -h 127.0.0.1 -p 6379 ping 2>/dev/null | grep -q PONG; then
    log "Redis is up"
    return
  fi
  log "starting Redis"
  mkdir -p /var/lib/redis /var/log/redis
  redis-server --daemonize yes --bind 127.0.0.1 -::1 --port 6379 --save "" --appendonly no \
    --dir /var/lib/redis --logfile /var/log/redis/ci.log
  for _ in $(seq 1 50); do
    redis-cli -h 127.0.0.1 -p 6379 ping 2>/dev/null | grep -q PONG && return
    sleep 0.2
  done
  log "Redis did not start"; tail -n 20 /var/log/redis/ci.log || true; return 1
}

rabbitmq_up() { (exec 3<>/dev/tcp/127.0.0.1/5672) 2>/dev/null; }

ensure_rabbitmq() {
  if rabbitmq_up; then
    log "RabbitMQ is up"
    return
  fi
  log "starting RabbitMQ"
  rabbitmq-server -detached
  # the port opens once the broker has booted (~10 s)
  for _ in $(seq 1 120); do
    rabbitmq_up && { sleep 1; return; }
    sleep 0.5
  done
  log "RabbitMQ did not start"; tail -n 30 /var/log/rabbitmq/*.log 2>/dev/null || true; return 1
}

apt_install libnet-smpp-perl redis-server rabbitmq-server
ensure_jasmin
ensure_redis
ensure_rabbitmq
