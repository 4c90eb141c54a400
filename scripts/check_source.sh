#!/usr/bin/env bash
# Source checks that need no build; scripts/test.sh (and so CI) runs them
# first:
#   1. every tracked C++ file is formatted as .clang-format says (Debian's
#      clang-format 14);
#   2. shared state is guarded by absl::Mutex, never by std::mutex and its
#      kin, which clang's -Wthread-safety cannot see (the annotations are
#      checked by scripts/build_clang_checks.sh).
# Exit 1 with what is wrong and where.
#   scripts/check_source.sh          # check
#   scripts/check_source.sh --fix    # format the C++ files in place
set -euo pipefail
cd "$(dirname "$0")/.."
CLANG_FORMAT=${CLANG_FORMAT:-clang-format}
mapfile -t files < <(git ls-files -- '*.cc' '*.h')
if [[ "${1:-}" == "--fix" ]]; then
  "$CLANG_FORMAT" -i "${files[@]}"
  exit 0
fi
failed=0

unformatted=()
for f in "${files[@]}"; do
  "$CLANG_FORMAT" --dry-run --Werror "$f" >/dev/null 2>&1 || unformatted+=("$f")
done
if ((${#unformatted[@]} > 0)); then
  echo "check_source: ${#unformatted[@]} file(s) differ from .clang-format ($("$CLANG_FORMAT" --version)):" >&2
  for f in "${unformatted[@]}"; do
    echo "--- $f" >&2
    "$CLANG_FORMAT" "$f" | diff -u "$f" - | head -20 >&2 || true
  done
  echo "check_source: run scripts/check_source.sh --fix" >&2
  failed=1
fi

unannotated=$(grep -nE 'std::(mutex|shared_mutex|recursive_mutex|timed_mutex|condition_variable|lock_guard|unique_lock|shared_lock|scoped_lock)\b' \
  "${files[@]}" || true)
if [[ -n "$unannotated" ]]; then
  echo "check_source: locks that -Wthread-safety cannot check; use absl::Mutex, absl::MutexLock," \
    "absl::CondVar with ABSL_GUARDED_BY / ABSL_EXCLUSIVE_LOCKS_REQUIRED:" >&2
  echo "$unannotated" >&2
  failed=1
fi

((failed == 0)) && echo "check_source: ${#files[@]} C++ files formatted, no unannotated locks"
exit "$failed"
