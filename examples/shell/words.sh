#!/bin/sh
# words(text): how many words a text has, counted by wc.
python3 -c 'import json, sys; print(json.load(sys.stdin))' | wc -w | tr -d ' '
