"""py_test over pytest: one target per tests/**/*_test.py file."""

def pytest_test(name, src, deps = [], data = [], size = "medium", tags = []):
    native.py_test(
        name = name,
        srcs = ["//tools:pytest_main.py", src],
        main = "//tools:pytest_main.py",
        args = ["$(location %s)" % src],
        deps = deps,
        data = data,
        size = size,
        tags = tags,
        python_version = "PY3",
    )
