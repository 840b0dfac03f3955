#!/usr/bin/env bash
# Checks that C++ files follow .clang-format (Debian 12's clang-format 14).
#
#   tools/check_format.sh              # every tracked .cc and .h file
#   tools/check_format.sh --changed [BASE]   # those changed since BASE (default: HEAD), and new ones
#
# Prints each file that differs and exits 1; fix them with `clang-format -i FILE`.
set -euo pipefail
cd "$(dirname "$0")/.."
format=$(command -v clang-format-14 || command -v clang-format || true)
[ -n "$format" ] || { echo "check_format: clang-format not found (run tools/setup.sh)" >&2; exit 1; }

if [ "${1:-}" = "--changed" ]; then
  base=${2:-HEAD}
  mapfile -t files < <({ git diff --name-only --diff-filter=d "$base" -- '*.cc' '*.h'
                         git ls-files --others --exclude-standard -- '*.cc' '*.h'; } | sort -u)
else
  mapfile -t files < <(git ls-files -- '*.cc' '*.h')
fi

bad=0
for f in "${files[@]}"; do
  if ! "$format" --dry-run --Werror "$f" >/dev/null 2>&1; then
    echo "check_format: $f is not formatted (clang-format -i $f)"
    bad=$((bad + 1))
  fi
done
echo "check_format: ${#files[@]} file(s) checked, $bad not formatted"
[ "$bad" -eq 0 ]
