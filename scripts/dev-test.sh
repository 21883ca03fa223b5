#!/usr/bin/env bash
# For parallel work in one tree: compile into a private out dir and run some tests,
# without touching dist/ that others may be using.
#   scripts/dev-test.sh NAME [spec-glob...]   (globs relative to the repo, e.g. 'test/kernel/maps.test.ts')
set -uo pipefail
cd "$(dirname "$0")/.."
name=$1; shift
out=".build-$name"
npx tsc -p tsconfig.json --outDir "$out" | grep -v '^$' | head -40
specs=()
for s in "$@"; do specs+=("$out/${s%.ts}.js"); done
[ ${#specs[@]} -eq 0 ] && specs=("$out/test/**/*.test.js")
exec npx mocha --no-config --require "$out/test/support/hooks.js" --timeout 20000 \
  --reporter ./test/support/summary-reporter.cjs "${specs[@]}"
