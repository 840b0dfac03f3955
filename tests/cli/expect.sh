# Shared by the command-line test scripts (source it): a scratch folder $work removed on
# exit, `expect` checks and `finish`, which reports and sets the exit status.
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
passed=0
failed=0

# expect NAME EXIT_CODE PATTERN -- command...: the command exits with EXIT_CODE and its
# output (stdout + stderr) matches the extended regex PATTERN.
expect() {
  local name=$1 code=$2 pattern=$3
  shift 4
  local out rc
  out=$("$@" 2>&1)
  rc=$?
  if [ "$rc" -eq "$code" ] && grep -Eq -- "$pattern" <<<"$out"; then
    passed=$((passed + 1))
  else
    failed=$((failed + 1))
    echo "FAILED: $name (exit $rc, wanted $code; pattern '$pattern')"
    echo "$out" | head -20 | sed 's/^/    /'
  fi
}

finish() {
  echo "$passed passed, $failed failed"
  [ "$failed" -eq 0 ]
}
