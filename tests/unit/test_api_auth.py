"""API keys: parsing, constant-time lookup, scopes."""

import pytest

from rag.api.auth import KeyRing, parse_api_keys, presented_key


def test_parse_plain_and_scoped_keys():
    keys = parse_api_keys(" k1 , k2:a|b ,k3:*,")
    assert [k.secret for k in keys] == [b"k1", b"k2", b"k3"]
    assert keys[0].principal.scopes is None and keys[2].principal.scopes is None
    assert keys[1].principal.scopes == frozenset({"a", "b"})
    assert all(k.principal.name.startswith("key-") and "k1" not in k.principal.name for k in keys)


@pytest.mark.parametrize("spec", [":a", "k:", "k1,k1"])
def test_bad_specs_are_refused(spec):
    with pytest.raises(ValueError):
        parse_api_keys(spec)


def test_empty_spec_disables_auth():
    assert not KeyRing.from_spec("").enabled
    assert not KeyRing.from_spec(" , ").enabled


def test_lookup_and_scope():
    ring = KeyRing.from_spec("k1,k2:a|b")
    assert ring.lookup("k1").allows("anything")
    p = ring.lookup("k2")
    assert p.allows("a") and not p.allows("c")
    assert ring.lookup("k3") is None and ring.lookup("") is None and ring.lookup("k1 ") is None
    assert ring.lookup("ké") is None  # non-ASCII never raises


def test_presented_key():
    assert presented_key("Bearer abc", None) == "abc"
    assert presented_key("bearer  abc ", None) == "abc"
    assert presented_key("Basic abc", "xyz") == "xyz"
    assert presented_key(None, " xyz ") == "xyz"
    assert presented_key("Bearer ", None) is None
