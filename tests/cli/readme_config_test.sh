#!/usr/bin/env bash
# The README's configuration reference is `hrere config --describe`, word for word: a key
# added, renamed or given a new default without the README following fails here.
# Usage: readme_config_test.sh HRERE_BINARY README
set -euo pipefail
hrere=$1 readme=$2
documented=$(sed -n '/<!-- config-describe:begin -->/,/<!-- config-describe:end -->/p' "$readme" |
  sed '1d;$d')
if [ -z "$documented" ]; then
  echo "FAIL: $readme has no table between <!-- config-describe:begin/end --> markers" >&2
  exit 1
fi
if ! diff <(printf '%s\n' "$documented") <("$hrere" config --describe); then
  echo "FAIL: $readme's configuration table differs from 'hrere config --describe' (< README," \
    "> binary); paste the binary's output between the markers" >&2
  exit 1
fi
echo "README configuration table matches hrere config --describe"
