#!/usr/bin/env python3
"""Writes the README's "Using it" snippets into DIR, exactly as printed.

Usage: extract_readme.py README.md DIR
  main.c, c_build.sh, CMakeLists.txt   from "## Using it from C"
  main.cc, cxx_build.sh                from "## Using it from C++"
Exit 1 (with one line) if a section or block is missing.
"""
import re
import sys


def blocks(section_text):
    return re.findall(r"^```(\w+)\n(.*?)^```$", section_text, re.S | re.M)


def section(text, title):
    m = re.search(r"^## " + re.escape(title) + r"\n(.*?)(?=^## |\Z)", text, re.S | re.M)
    if not m:
        sys.exit("extract_readme: no section '## %s'" % title)
    return m.group(1)


def main():
    readme, out = sys.argv[1], sys.argv[2]
    text = open(readme, encoding="utf-8").read()
    want = {
        "Using it from C": {"c": "main.c", "sh": "c_build.sh", "cmake": "CMakeLists.txt"},
        "Using it from C++": {"cpp": "main.cc", "sh": "cxx_build.sh"},
    }
    for title, files in want.items():
        found = {}
        for lang, body in blocks(section(text, title)):
            if lang in files and lang not in found:
                found[lang] = body
        for lang, name in files.items():
            if lang not in found:
                sys.exit("extract_readme: no ```%s block in '## %s'" % (lang, title))
            with open(out + "/" + name, "w", encoding="utf-8") as f:
                f.write(found[lang])


if __name__ == "__main__":
    main()
