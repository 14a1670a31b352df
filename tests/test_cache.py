"""The cache: trusted only when it is right, written whole or not at all, bounded."""

import os
import time

import pytest

from gradcheck import check
from gradcheck.engine import cache
from gradcheck.source.files import load


@pytest.fixture
def base(tmp_path, monkeypatch):
    """A cache of this test's own."""
    monkeypatch.setenv("GRADCHECK_CACHE_DIR", str(tmp_path / "cache"))
    return tmp_path / "cache"


def entry(base, kind="tapes", digest="d" * 64):
    return base / kind / f"{digest}.json"


def test_an_entry_reads_back_as_written(base):
    cache.write("tapes", "d" * 64, '{"code": []}')
    assert cache.read("tapes", "d" * 64) == '{"code": []}'
    assert entry(base).read_text().startswith(cache.HEADER)
    assert cache.read("tapes", "e" * 64) is None


@pytest.mark.parametrize(
    "damage",
    [
        lambda text: text.replace("exp", "sin"),  # edited by hand
        lambda text: text[:-5],  # cut short
        lambda text: text.partition("\n")[2],  # the format before checksums
        lambda text: text + " ",
        lambda text: "",
    ],
    ids=["edited", "truncated", "no checksum", "appended", "empty"],
)
def test_a_damaged_entry_is_removed_never_trusted(base, damage):
    cache.write("tapes", "d" * 64, '[["exp", 0]]')
    path = entry(base)
    path.write_text(damage(path.read_text()))
    assert cache.read("tapes", "d" * 64) is None
    assert not path.exists()


def test_an_entry_copied_under_another_key_is_not_trusted(base):
    cache.write("proofs", "a" * 64, "false")
    cache.write("proofs", "b" * 64, "true")
    entry(base, "proofs", "a" * 64).write_bytes(entry(base, "proofs", "b" * 64).read_bytes())
    assert cache.read("proofs", "a" * 64) is None
    assert cache.read("proofs", "b" * 64) == "true"


def test_what_is_not_a_file_in_the_cache_is_passed_by_without_blocking(base):
    (base / "tapes").mkdir(parents=True)
    os.mkfifo(entry(base))  # opened without O_NONBLOCK, this read would wait forever
    assert cache.read("tapes", "d" * 64) is None
    cache.write("tapes", "d" * 64, "[]")  # and it is replaced by a real entry
    assert cache.read("tapes", "d" * 64) == "[]"


def test_a_failed_write_leaves_nothing_behind(base, monkeypatch):
    def refuse(*args):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "replace", refuse)
    cache.write("tapes", "d" * 64, "[]")
    assert cache.read("tapes", "d" * 64) is None
    assert list((base / "tapes").iterdir()) == []


PROBLEM = "expr: exp(x)*y\nat: {x: 0.5, y: 2}\nexpect:\n  grad: {x: 3.2974425, y: 1.6487213}\n"


def checked(tmp_path, text=PROBLEM):
    path = tmp_path / "p.yaml"
    path.write_text(text)
    (problem,) = load(path)
    (result,) = check(problem).problems
    return result


def test_a_hand_edited_tape_does_not_change_the_verdict(base, tmp_path):
    assert checked(tmp_path).status == "pass"
    (tape,) = (base / "tapes").iterdir()
    text = tape.read_text()
    assert '"exp"' in text
    tape.write_text(text.replace('"exp"', '"sin"'))
    result = checked(tmp_path)
    assert result.status == "pass", result.message
    assert tape.read_text() == text  # worked out again, and written anew


def test_a_hand_edited_proof_is_not_believed(base, tmp_path):
    right = "expr: sin(x)*y\nclaims:\n  x: cos(x)*y\n"
    assert checked(tmp_path, right).claims["x"].proved
    (proof,) = (base / "proofs").iterdir()
    proof.write_text(proof.read_text().replace("true", "false"))
    assert checked(tmp_path, right).claims["x"].proved
    assert cache.read("proofs", proof.stem) == "true"


def test_the_cache_is_bounded_and_keeps_what_was_used_last(base, monkeypatch):
    monkeypatch.setattr(cache, "MAX_FILES", 10)
    monkeypatch.setattr(cache, "PRUNE_EVERY", 1)
    digests = [f"{i:064x}" for i in range(11)]
    now = time.time()
    for i, digest in enumerate(digests[:10]):
        cache.write("tapes", digest, "[]")
        os.utime(entry(base, digest=digest), (now - 100 + i, now - 100 + i))
    assert cache.read("tapes", digests[0]) == "[]"  # used: now the newest
    cache.write("tapes", digests[10], "[]")  # 11 entries: pruned to 8, oldest first
    kept = sorted(p.stem for p in (base / "tapes").iterdir())
    assert kept == sorted([digests[0], *digests[4:11]])


def test_the_cache_is_bounded_in_bytes(base, monkeypatch):
    monkeypatch.setattr(cache, "MAX_BYTES", 10_000)
    monkeypatch.setattr(cache, "PRUNE_EVERY", 1)
    for i in range(30):
        cache.write("tapes", f"{i:064x}", "x" * 1_000)
    total = sum(p.stat().st_size for p in (base / "tapes").iterdir())
    assert total <= 10_000 and cache.read("tapes", f"{29:064x}") == "x" * 1_000


def test_temporary_files_left_by_dead_writers_are_removed(base):
    cache.write("tapes", "d" * 64, "[]")
    stale = base / "tapes" / "tmpdead.tmp"
    stale.write_text("half")
    old = time.time() - 2 * cache.STALE
    os.utime(stale, (old, old))
    fresh = base / "tapes" / "tmplive.tmp"
    fresh.write_text("half")
    cache.prune(base)
    assert not stale.exists() and fresh.exists()
