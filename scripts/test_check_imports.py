#!/usr/bin/env python3
"""Tests of check_imports.py on small made-up packages (no SwiftPM needed): each kind of disagreement is found,
and a package that agrees passes."""
import os
import sys
import tempfile
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import check_imports  # noqa: E402

TABLE = """
| module | folder | role | may import |
|---|---|---|---|
| `Core` | `Sources/Core` | the core | NIOCore |
| `Layer` | `Sources/Layer` | a layer | Core, NIO |
| `App` | `Sources/App` | the app | Core, Layer |
"""


def target(name, dependencies, kind="regular"):
    return {"name": name, "type": kind, "path": None,
            "dependencies": [{"byName": [d, None]} if d[0].isupper() and not d.startswith("NIO")
                             else {"product": [d, "swift-nio", None, None]} for d in dependencies]}


class CheckImportsTests(unittest.TestCase):
    def setUp(self):
        self.directory = tempfile.TemporaryDirectory()
        self.root = self.directory.name
        self.package = {"targets": [
            target("Core", ["NIOCore"]),
            target("Layer", ["Core", "NIOCore"]),
            target("App", ["Core", "Layer"]),
        ]}
        self.write("Sources/Core/Core.swift", "import NIOCore\n")
        self.write("Sources/Layer/Layer.swift", "import Core\nimport NIOCore\nimport Glibc\n")
        self.write("Sources/App/main.swift", "@testable import Core\nimport Layer\n")

    def tearDown(self):
        self.directory.cleanup()

    def write(self, relative, text):
        path = os.path.join(self.root, relative)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "w", encoding="utf-8") as handle:
            handle.write(text)

    def problems(self, table=TABLE):
        return check_imports.check(self.package, self.root, table)

    def test_a_package_that_agrees_passes(self):
        self.assertEqual(self.problems(), [])

    def test_a_transitive_import_is_found(self):
        self.write("Sources/App/Extra.swift", "import NIOCore\n")
        self.assertEqual(self.problems(),
                         ["Sources/App/Extra.swift: imports NIOCore, which App does not declare in Package.swift"])

    def test_an_unused_dependency_is_found(self):
        self.write("Sources/Layer/Layer.swift", "import Core\n")
        self.assertEqual(self.problems(), ["Layer: declares NIOCore in Package.swift, but no file of it imports it"])

    def test_a_dependency_the_table_does_not_allow_is_found(self):
        table = TABLE.replace("| Core, Layer |", "| Core |")
        self.assertEqual(self.problems(table), ["App: depends on Layer, which the module table does not allow"])

    def test_a_table_entry_without_a_dependency_is_found(self):
        table = TABLE.replace("| Core, NIO |", "| Core, App, NIO |")
        self.assertEqual(self.problems(table),
                         ["Layer: the module table lists App, which it does not depend on"])

    def test_a_target_missing_from_the_table_is_found(self):
        table = "\n".join(line for line in TABLE.splitlines() if "`App`" not in line)
        self.assertEqual(self.problems(table), ["App: missing from the module table in docs/ARCHITECTURE.md"])

    def test_imports_in_comments_and_string_literals_do_not_count(self):
        self.write("Sources/App/Script.swift",
                   'import Core\n// import Secret\n/* import Hidden */\nlet code = """\n    import os, sys\n    """\n')
        self.assertEqual(self.problems(), [])

    def test_attributes_on_one_line_do_not_hide_the_next_import(self):
        self.write("Sources/App/main.swift", "@testable import Core\nimport Layer\nimport NIOPosix\n")
        self.assertEqual(self.problems(),
                         ["Sources/App/main.swift: imports NIOPosix, which App does not declare in Package.swift"])

    def test_test_targets_are_checked_for_imports_but_not_against_the_table(self):
        self.package["targets"].append(target("AppTests", ["App"], kind="test"))
        self.write("Tests/AppTests/AppTests.swift", "import App\nimport Layer\nimport Testing\n")
        self.assertEqual(self.problems(),
                         ["Tests/AppTests/AppTests.swift: imports Layer, which AppTests does not declare in "
                          "Package.swift"])


if __name__ == "__main__":
    unittest.main()
