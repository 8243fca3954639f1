"""A notarization ticket stapled to an app (issue 14 §2): written as
Contents/CodeResources as Apple's stapler does, reported by `sig verify`
(does it list the app's cdhash?), carried by `sig detach` and put back by
`sig apply`.  The app is the corpus's signed app (signed by Apple's
codesign); the ticket bytes are made in the test (Apple's format is not
public: only whether it names the cdhash is checked)."""

from __future__ import annotations

import shutil

import pytest

from helpers import SIGNAPPLE_CORPUS
from pipeline.codesign import detach, signature_members, verify_path
from pipeline.codesign.apply import apply
from pipeline.codesign.staple import staple_app
from pipeline.errors import InputError


@pytest.fixture
def app(tmp_path):
    out = tmp_path / "Signed.app"
    shutil.copytree(SIGNAPPLE_CORPUS / "signed", out, symlinks=True)
    return out


def _cdhash(app) -> bytes:
    report = verify_path(app)
    return bytes.fromhex(report.files[0].slices[0].cdhash)


def test_a_stapled_ticket_is_reported_and_keeps_the_signature_valid(app):
    assert verify_path(app).ticket is None
    ticket = b"s8ch" + bytes(40) + _cdhash(app) + b"test"
    target = staple_app(app, ticket)
    assert target == app / "Contents/CodeResources" and target.read_bytes() == ticket
    report = verify_path(app)
    assert report.ok, report.failures
    assert report.ticket == "stapled (lists the app's cdhash)"
    assert report.to_json()["ticket"] == report.ticket


def test_a_ticket_for_another_build_fails(app):
    staple_app(app, b"s8ch" + bytes(64))
    report = verify_path(app)
    assert not report.ok
    assert "lists none of the app's cdhashes" in " ".join(report.failures)


def test_the_ticket_travels_with_detached_signatures(app, tmp_path):
    ticket = b"s8ch" + bytes(40) + _cdhash(app) + b"test"
    staple_app(app, ticket)
    assert signature_members(app)["Contents/CodeResources"] == ticket
    detach(app, tmp_path / "sigs.tar")
    unsigned = tmp_path / "Unsigned.app"
    shutil.copytree(SIGNAPPLE_CORPUS / "unsigned", unsigned, symlinks=True)
    apply(unsigned, tmp_path / "sigs.tar", tmp_path / "Out.app")
    assert (tmp_path / "Out.app/Contents/CodeResources").read_bytes() == ticket
    assert verify_path(tmp_path / "Out.app").ticket == "stapled (lists the app's cdhash)"


def test_staple_refusals(tmp_path):
    (tmp_path / "NotAnApp").mkdir()
    with pytest.raises(InputError, match="not an app bundle"):
        staple_app(tmp_path / "NotAnApp", b"x")
    (tmp_path / "A.app/Contents").mkdir(parents=True)
    with pytest.raises(InputError, match="expected 1.."):
        staple_app(tmp_path / "A.app", b"")
