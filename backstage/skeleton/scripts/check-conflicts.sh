#!/bin/sh
# Fail while `copier update` left conflicts behind: lines starting with <<<<<<< or
# >>>>>>> (a lone ======= is a Markdown underline, not a conflict), or *.rej files.
# Used by `make check-conflicts`, the pre-commit hook and Renovate's post-upgrade task
# (renovate.json). POSIX sh, find and grep.
# Exit status: 0 clean, 1 conflicts found (listed on stderr).
set -u
cd "$(dirname "$0")/.." || exit 2

# Every file outside tool and cache directories, ignored ones included; the
# arguments are the find tests and action.
files() {
  find . \( -name .git -o -name .venv -o -name .tools -o -name .terraform \
    -o -name node_modules -o -name __pycache__ \) -prune -o -type f "$@"
}

status=0
# /dev/null makes grep print the file name even when find passes a single file.
markers=$(files -exec grep -n -I -E '^(<<<<<<<|>>>>>>>)' /dev/null {} + \
  | cut -d: -f1,2 | sed 's|^\./||')
if [ -n "$markers" ]; then
  echo "Conflict markers left by an update (file:line):" >&2
  echo "$markers" >&2
  status=1
fi
rejects=$(files -name '*.rej' -print | sed 's|^\./||' | sort)
if [ -n "$rejects" ]; then
  echo "Rejected hunks left by an update (merge them by hand, then delete the file):" >&2
  echo "$rejects" >&2
  status=1
fi
if [ "$status" -ne 0 ]; then
  echo "Resolve these, then commit (docs: the template's docs/updating.md)." >&2
fi
exit "$status"
