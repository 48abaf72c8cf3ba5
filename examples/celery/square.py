"""square(x): one element of a map."""
import json
import sys

print(json.dumps(json.load(sys.stdin) ** 2))
