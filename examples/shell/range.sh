#!/bin/sh
# range(n): [0, 1, …, n-1]; a handler needs no language but a shell.
read n
[ "$n" -ge 0 ] 2>/dev/null || { echo "not a number: $n" >&2; exit 1; }
awk -v n="$n" 'BEGIN { printf "["; for (i = 0; i < n; i++) printf "%s%d", (i ? "," : ""), i; print "]" }'
