#!/usr/bin/env python3
"""Checks that the module table holds: every file imports only what its target declares, every declared
dependency is imported somewhere in the target, and the Mortar modules each target depends on are exactly the ones
the table in docs/ARCHITECTURE.md says it may import.

    python3 scripts/check_imports.py [PACKAGE_DIR]

Reads the package through `swift package dump-package` (no build needed). Exits 0 with one line of counts when
everything agrees, 1 with one line per disagreement otherwise.
"""
import json
import os
import re
import subprocess
import sys

# Modules every target may import without declaring them: the toolchain's own.
TOOLCHAIN_MODULES = {
    "Swift", "Glibc", "Musl", "Darwin", "Foundation", "FoundationEssentials", "Dispatch", "Synchronization",
    "_Concurrency", "Observation", "Testing", "XCTest", "CoreFoundation",
}

IMPORT = re.compile(
    r"^[ \t]*(?:@\w+(?:\([^)\n]*\))?[ \t]+)*import[ \t]+(?:(?:typealias|struct|class|enum|protocol|let|var|func)[ \t]+)?"
    r"([A-Za-z_]\w*)",
    re.M)
TABLE_ROW = re.compile(r"^\|\s*`([^`]+)`\s*\|[^|]*\|[^|]*\|([^|]*)\|\s*$", re.M)


def load_package(package_dir):
    """The manifest as `swift package dump-package` prints it (anything before the JSON is SwiftPM chatter)."""
    output = subprocess.run(["swift", "package", "dump-package"], cwd=package_dir, check=True,
                            capture_output=True, text=True).stdout
    return json.loads(output[output.index("{"):])


def dependency_names(target):
    """The module names a target declares: targets by name and products (a product's name is its module's)."""
    names = set()
    for dependency in target["dependencies"]:
        (kind, value), = dependency.items()
        names.add(value[0])
    return names


def target_directory(package_dir, target):
    if target.get("path"):
        return os.path.join(package_dir, target["path"])
    parent = "Tests" if target["type"] == "test" else "Sources"
    return os.path.join(package_dir, parent, target["name"])


def swift_files(directory):
    for root, _, files in os.walk(directory):
        for name in sorted(files):
            if name.endswith(".swift"):
                yield os.path.join(root, name)


def imports_of(text):
    """The modules a Swift source imports, leaving out comments and multi-line string literals (which may hold
    another language's code)."""
    code = re.sub(r'"""(?:.|\n)*?"""', "", text)
    code = re.sub(r"//.*", "", code)
    code = re.sub(r"/\*.*?\*/", "", code, flags=re.S)
    return set(IMPORT.findall(code))


def table_dependencies(architecture_text, internal):
    """Per module of the table, the Mortar modules its "may import" column names (external names are ignored)."""
    table = {}
    for module, column in TABLE_ROW.findall(architecture_text):
        names = set(re.findall(r"[A-Za-z_]\w*", column))
        table[module] = names & internal
    return table


def check(package, package_dir, architecture_text):
    """Every disagreement as one line; empty when the table holds."""
    problems = []
    targets = package["targets"]
    internal = {target["name"] for target in targets}
    table = table_dependencies(architecture_text, internal)
    for target in targets:
        name = target["name"]
        declared = dependency_names(target)
        files = list(swift_files(target_directory(package_dir, target)))
        used = set()
        for path in files:
            with open(path, encoding="utf-8") as handle:
                imported = imports_of(handle.read())
            used |= imported
            relative = os.path.relpath(path, package_dir)
            for module in sorted(imported - declared - TOOLCHAIN_MODULES - {name}):
                problems.append(f"{relative}: imports {module}, which {name} does not declare in Package.swift")
        if files:
            for module in sorted(declared - used):
                problems.append(f"{name}: declares {module} in Package.swift, but no file of it imports it")
        if target["type"] == "test":
            continue
        if name not in table:
            problems.append(f"{name}: missing from the module table in docs/ARCHITECTURE.md")
            continue
        internal_declared = declared & internal
        for module in sorted(internal_declared - table[name]):
            problems.append(f"{name}: depends on {module}, which the module table does not allow")
        for module in sorted(table[name] - internal_declared):
            problems.append(f"{name}: the module table lists {module}, which it does not depend on")
    for module in sorted(set(table) - internal):
        problems.append(f"docs/ARCHITECTURE.md: the module table lists {module}, which is not a target")
    return problems


def main(argv):
    package_dir = os.path.abspath(argv[1] if len(argv) > 1 else os.path.join(os.path.dirname(__file__), ".."))
    package = load_package(package_dir)
    with open(os.path.join(package_dir, "docs", "ARCHITECTURE.md"), encoding="utf-8") as handle:
        architecture = handle.read()
    problems = check(package, package_dir, architecture)
    for problem in problems:
        print(f"check_imports: {problem}")
    if problems:
        return 1
    print(f"check_imports: {len(package['targets'])} targets agree with Package.swift and the module table")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
