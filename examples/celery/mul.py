"""mul(x, y): input {"x": …, "y": …}, or [x, y]."""
import json
import sys

args = json.load(sys.stdin)
x, y = (args["x"], args["y"]) if isinstance(args, dict) else args
print(json.dumps(x * y))
