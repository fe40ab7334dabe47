#!/usr/bin/env bash
# Starts or stops an OCI registry on 127.0.0.1 for trying modelverify out:
# Debian's docker-registry (the CNCF distribution registry) with its own
# config, no authentication and its storage in a folder of your choice.
# The package's own service listens on every interface and wants an
# htpasswd file; this one does neither.
#
#   eval "$(scripts/local-registry.sh start /tmp/registry)"   # sets REGISTRY
#   scripts/local-registry.sh stop /tmp/registry
#
# PORT chooses the port (default 5000). Plain HTTP: pass --plain-http to
# modelverify for this registry.
set -euo pipefail

usage() { echo "usage: $0 start|stop DIR" >&2; exit 3; }
[[ $# -eq 2 ]] || usage
cmd=$1 dir=$2
bin=${DOCKER_REGISTRY:-/usr/bin/docker-registry}
port=${PORT:-5000}

case "$cmd" in
start)
  [[ -x "$bin" ]] || { echo "$bin not found: apt-get install docker-registry" >&2; exit 2; }
  mkdir -p "$dir/storage"
  if [[ -f "$dir/pid" ]] && kill -0 "$(cat "$dir/pid")" 2>/dev/null; then
    echo "already running (pid $(cat "$dir/pid"))" >&2
  else
    cat > "$dir/config.yml" <<YAML
version: 0.1
log:
  level: error
  accesslog:
    disabled: true
storage:
  filesystem:
    rootdirectory: $dir/storage
  delete:
    enabled: true
http:
  addr: 127.0.0.1:$port
YAML
    "$bin" serve "$dir/config.yml" >"$dir/registry.log" 2>&1 &
    echo $! > "$dir/pid"
    for _ in $(seq 50); do
      if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then break; fi
      if ! kill -0 "$(cat "$dir/pid")" 2>/dev/null; then
        echo "docker-registry exited:" >&2; cat "$dir/registry.log" >&2; exit 2
      fi
      sleep 0.1
    done
  fi
  echo "export REGISTRY=127.0.0.1:$port"
  ;;
stop)
  if [[ -f "$dir/pid" ]]; then
    kill "$(cat "$dir/pid")" 2>/dev/null || true
    rm -f "$dir/pid"
  fi
  ;;
*) usage ;;
esac
