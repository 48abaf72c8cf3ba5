"""xsum(numbers): the sum of a list, as in Celery's chord demo."""
import json
import sys

numbers = json.load(sys.stdin)
print(f"summing {len(numbers)} numbers", file=sys.stderr)
print(json.dumps(sum(numbers)))
