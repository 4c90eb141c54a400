#!/usr/bin/env bash
# Checks that every tracked C++ file is formatted as .clang-format says
# (Debian's clang-format 14). Exit 1 and a list of the files otherwise.
#   scripts/check_format.sh          # check (CI runs this through scripts/test.sh)
#   scripts/check_format.sh --fix    # format the files in place
set -euo pipefail
cd "$(dirname "$0")/.."
CLANG_FORMAT=${CLANG_FORMAT:-clang-format}
mapfile -t files < <(git ls-files -- '*.cc' '*.h')
if [[ "${1:-}" == "--fix" ]]; then
  "$CLANG_FORMAT" -i "${files[@]}"
  exit 0
fi
unformatted=()
for f in "${files[@]}"; do
  "$CLANG_FORMAT" --dry-run --Werror "$f" >/dev/null 2>&1 || unformatted+=("$f")
done
if ((${#unformatted[@]} > 0)); then
  echo "check_format: ${#unformatted[@]} file(s) differ from .clang-format ($("$CLANG_FORMAT" --version)):" >&2
  for f in "${unformatted[@]}"; do
    echo "--- $f" >&2
    "$CLANG_FORMAT" "$f" | diff -u "$f" - | head -20 >&2 || true
  done
  echo "check_format: run scripts/check_format.sh --fix" >&2
  exit 1
fi
echo "check_format: ${#files[@]} files formatted"
