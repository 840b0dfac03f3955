#!/usr/bin/env bash
# Runs a queue of experiments one after another and records each: for long CPU campaigns
# (seeds, sweeps) left running in the background while other work goes on.
#
#   tools/run_queue.sh QUEUE [LOG]        # LOG default: QUEUE.log.jsonl
#
# QUEUE is a text file with one shell command a line (blank lines and # comments skipped),
# typically `build/hrere train ... --out DIR`. A line whose command already finished with
# exit 0 in LOG is skipped, so a stopped queue resumes where it was. For every line run, LOG
# gets one JSON line: the commit and whether the tree had changes, the command, start time,
# seconds, exit code, and, when the command has `--out DIR` and DIR/eval/summary.json exists,
# the sentence protocol's P@10/30/50% and PR-AUC (AP).
set -uo pipefail
cd "$(dirname "$0")/.."
queue=${1:?usage: tools/run_queue.sh QUEUE [LOG]}
log=${2:-$queue.log.jsonl}
touch "$log"
commit=$(git rev-parse --short HEAD 2>/dev/null || echo unknown)
dirty=$([ -n "$(git status --porcelain --untracked-files=no 2>/dev/null)" ] && echo true || echo false)

while IFS= read -r command || [ -n "$command" ]; do
  case $command in "" | \#*) continue ;; esac
  if python3 - "$log" "$command" <<'PY'; then
import json, sys
log, command = sys.argv[1], sys.argv[2]
done = any(json.loads(line).get("command") == command and json.loads(line).get("exit") == 0
           for line in open(log) if line.strip())
sys.exit(0 if done else 1)
PY
    echo "run_queue: done before, skipped: $command"
    continue
  fi
  echo "run_queue: $command"
  started=$(date -u +%Y-%m-%dT%H:%M:%SZ)
  start=$SECONDS
  bash -c "$command" </dev/null
  status=$?
  python3 - "$log" "$command" "$commit" "$dirty" "$started" "$((SECONDS - start))" "$status" <<'PY'
import json, os, shlex, sys
log, command, commit, dirty, started, seconds, status = sys.argv[1:]
record = {"commit": commit, "dirty_tree": dirty == "true", "command": command,
          "started": started, "seconds": int(seconds), "exit": int(status)}
words = shlex.split(command)
if "--out" in words[:-1]:
    summary = os.path.join(words[words.index("--out") + 1], "eval", "summary.json")
    if os.path.exists(summary):
        s = json.load(open(summary))["sentence"]
        record.update({"p10": s["p_at_percent"]["10"], "p30": s["p_at_percent"]["30"],
                       "p50": s["p_at_percent"]["50"], "ap": s["average_precision"]})
with open(log, "a") as f:
    f.write(json.dumps(record) + "\n")
PY
done <"$queue"
