# Shared steps of the build-*.sh scripts that build one Go program (once) from a module whose go.mod
# has no replace directives: a throwaway wrapper module in $CACHE/build/<name>-<version> pins the
# version and keeps the build reproducible (the layout build-binaries.sh uses for kubernetes).
# Sourced, not run. A script calls, in order:
#   gobuild_init NAME VERSION "$@"    log/fail helpers, OUT from the first argument
#   gobuild_cached [CHECK...]         exits 0 when "$OUT/NAME" is executable (and CHECK, if given, succeeds)
#   gobuild_wrapper MODULE            go.mod requiring MODULE@VERSION in the build dir (the cwd from then on);
#                                     sets GOBUILD_COMMIT to the module's VCS commit when the proxy knows it
#   gobuild_get PKG                   resolves PKG@VERSION into the wrapper module
#   gobuild_binary LDFLAGS PKG        builds PKG into "$OUT/NAME" (via a temporary file)

CACHE="${FEDLET_CACHE_DIR:-$HOME/.cache/fedlet}"

gobuild_init() {
  GOBUILD_NAME="$1"
  GOBUILD_VERSION="$2"
  shift 2
  [ $# -ge 1 ] && [ -n "$1" ] || fail "usage: $0 OUT_DIR"
  OUT="$1"
}
log() { echo "[build-$GOBUILD_NAME] $*" >&2; }
fail() { echo "[build-$GOBUILD_NAME] ERROR building $GOBUILD_NAME $GOBUILD_VERSION: $*" >&2; exit 1; }

gobuild_cached() {
  if [ -x "$OUT/$GOBUILD_NAME" ] && { [ $# -eq 0 ] || "$@"; }; then
    log "$GOBUILD_NAME${1:+ $GOBUILD_VERSION}: cached in $OUT"
    exit 0
  fi
  command -v go >/dev/null || fail "the Go toolchain is not installed"
  mkdir -p "$OUT" || fail "cannot create $OUT"
  export CGO_ENABLED=0
  GOBUILD_START=$(date +%s)
}

gobuild_wrapper() {
  local module="$1" dir="$CACHE/build/$GOBUILD_NAME-$GOBUILD_VERSION" dl gomod godirective
  mkdir -p "$dir" || fail "cannot create $dir"
  cd "$dir"
  dl=$(go mod download -json "$module@$GOBUILD_VERSION" 2>&1) \
    || { printf '%s\n' "$dl" >&2; fail "cannot download $module@$GOBUILD_VERSION from the Go module proxy"; }
  gomod=$(printf '%s\n' "$dl" | sed -n 's/^[[:space:]]*"GoMod": "\(.*\)",\{0,1\}$/\1/p')
  GOBUILD_COMMIT=$(printf '%s\n' "$dl" | sed -n 's/^[[:space:]]*"Hash": "\([0-9a-f]*\)",\{0,1\}$/\1/p')
  godirective=$(awk '/^go [0-9]/{print $2; exit}' "$gomod" 2>/dev/null || true)
  {
    echo "module fedlet.local/${GOBUILD_NAME//-/}build"
    echo "go ${godirective:-1.26}"
    echo "require $module $GOBUILD_VERSION"
  } > go.mod
  rm -f go.sum
}

gobuild_get() {
  log "$GOBUILD_NAME $GOBUILD_VERSION: resolving modules"
  go get "$1@$GOBUILD_VERSION" >get.log 2>&1 \
    || { cat get.log >&2; fail "go get failed (see above; a newer Go than $(go env GOVERSION) may be needed)"; }
}

gobuild_binary() {
  local ldflags="$1" pkg="$2" bin="$OUT/$GOBUILD_NAME"
  go build -trimpath -ldflags "$ldflags" -o "$bin.tmp" "$pkg" || { rm -f "$bin.tmp"; fail "go build failed (see above)"; }
  mv "$bin.tmp" "$bin"
  log "$GOBUILD_NAME $GOBUILD_VERSION: built in $(( $(date +%s) - GOBUILD_START ))s into $OUT"
}
