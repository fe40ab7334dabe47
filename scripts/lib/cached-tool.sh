# Sourced by the scripts that build a tool once from its module under
# tools/ and cache the binary (cosign.sh, helm.sh, hey.sh, local-kms.sh,
# oras.sh). cached_tool NAME DIR MODULE_DIR PACKAGE JOBS [LDFLAGS]:
#   builds PACKAGE in MODULE_DIR into DIR/NAME unless it is there already,
#   under a lock so that parallel callers build it once, with JOBS parallel
#   jobs at the lowest priority, statically and stripped; then prints
#   DIR/NAME.
cached_tool() {
  local name=$1 dir=$2 module=$3 pkg=$4 jobs=$5 ldflags=${6:-}
  mkdir -p "$dir"
  exec 9>"$dir/.lock"
  flock 9
  if [[ ! -x "$dir/$name" ]]; then
    echo "building $name into $dir" >&2
    (
      cd "$module"
      CGO_ENABLED=0 nice -n 19 go build -p "$jobs" -trimpath \
        -ldflags "-s -w${ldflags:+ $ldflags}" -o "$dir/$name.tmp" "$pkg"
    )
    mv "$dir/$name.tmp" "$dir/$name"
  fi
  exec 9>&-
  echo "$dir/$name"
}
