#!/usr/bin/env python3
"""Replaces the README's generated scenario table with the file given."""
import sys

table = open(sys.argv[1]).read()
readme = open("README.md").read()
start = readme.index("<!-- scenarios:start -->\n") + len("<!-- scenarios:start -->\n")
end = readme.index("<!-- scenarios:end -->")
open("README.md", "w").write(readme[:start] + table + readme[end:])
