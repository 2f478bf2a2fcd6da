#!/usr/bin/env python3
"""Replaces the generated scenario table in docs/scenarios.md with the file given."""
import sys

table = open(sys.argv[1]).read()
readme = open("docs/scenarios.md").read()
start = readme.index("<!-- scenarios:start -->\n") + len("<!-- scenarios:start -->\n")
end = readme.index("<!-- scenarios:end -->")
open("docs/scenarios.md", "w").write(readme[:start] + table + readme[end:])
