"""add(x, y): Celery's first demo task as an Orchard handler. Input {"x": …, "y": …}."""
import json
import sys

args = json.load(sys.stdin)
print(f"adding {args['x']} and {args['y']}", file=sys.stderr)
print(json.dumps(args["x"] + args["y"]))
