"""Finding the binary: ATTNPREC_BIN first, PATH without the package's own entry-point shim, the
version answered."""

import os
import stat

import pytest

import attnprec
from attnprec import _binary


def script(path, body):
    path.write_text(body)
    path.chmod(path.stat().st_mode | stat.S_IXUSR)
    return path


@pytest.fixture
def dirs(tmp_path, monkeypatch):
    _binary._version.cache_clear()
    shim_dir, real_dir = tmp_path / "shim", tmp_path / "real"
    shim_dir.mkdir(), real_dir.mkdir()
    script(shim_dir / "attnprec", "#!/usr/bin/env python3\nfrom attnprec._cli import main\nmain()\n")
    script(real_dir / "attnprec", "#!/bin/sh\necho 'attnprec 9.9.9'\n")
    monkeypatch.delenv("ATTNPREC_BIN", raising=False)
    monkeypatch.delenv("ATTNPREC", raising=False)
    monkeypatch.setenv("PATH", f"{shim_dir}{os.pathsep}{real_dir}")
    monkeypatch.chdir(tmp_path)
    yield tmp_path
    _binary._version.cache_clear()


def test_path_skips_the_shim_and_checks_the_version(dirs):
    if (_binary.Path(_binary.__file__).resolve().parent / "bin" / "attnprec").exists():
        pytest.skip("a bundled binary comes before PATH")
    b = attnprec.find_binary()
    assert b.path == str(dirs / "real" / "attnprec") and b.source == "PATH" and b.version == "attnprec 9.9.9"


def test_environment_comes_first_and_is_checked(dirs, monkeypatch):
    other = script(dirs / "other", "#!/bin/sh\necho 'attnprec 1.0.0'\n")
    monkeypatch.setenv("ATTNPREC_BIN", str(other))
    assert attnprec.find_binary().version == "attnprec 1.0.0"
    monkeypatch.setenv("ATTNPREC_BIN", str(script(dirs / "imposter", "#!/bin/sh\necho hello\n")))
    with pytest.raises(attnprec.AttnprecError, match="not an attnprec binary"):
        attnprec.find_binary()
    monkeypatch.setenv("ATTNPREC_BIN", str(dirs / "absent"))
    with pytest.raises(attnprec.AttnprecError, match="ATTNPREC_BIN=.*absent: not an executable file"):
        attnprec.find_binary()
