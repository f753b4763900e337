"""Only for the platform wheel: when build-wheel.sh has copied a binary to src/attnprec/bin/,
the wheel is tagged py3-none-linux_<machine> (it carries a native program, no Python extension).
Everything else is in pyproject.toml."""

import platform
from pathlib import Path

from setuptools import setup

cmdclass = {}
if (Path(__file__).resolve().parent / "src" / "attnprec" / "bin" / "attnprec").exists():
    try:
        from setuptools.command.bdist_wheel import bdist_wheel
    except ImportError:  # setuptools < 70.1
        from wheel.bdist_wheel import bdist_wheel

    class PlatformWheel(bdist_wheel):
        def finalize_options(self):
            super().finalize_options()
            self.root_is_pure = False

        def get_tag(self):
            return "py3", "none", f"linux_{platform.machine()}"

    cmdclass["bdist_wheel"] = PlatformWheel

setup(cmdclass=cmdclass)
