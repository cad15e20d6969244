"""Addresses read without netaddr are read exactly as netaddr reads them.

The generator reads plainly spelled IPv4 addresses and CIDRs itself (to spare
importing netaddr); everything else goes to netaddr. These properties check the
two readers against each other on arbitrary text and on every plain spelling.
"""

from __future__ import annotations

import netaddr
import pytest
from hypothesis import given
from hypothesis import strategies as st

from osa_inventory.errors import GenerationError
from osa_inventory.generate.addresses import (
    AddressPool,
    TakenAddresses,
    _ipv4,
    _ipv4_network,
    parse_address,
)

octets = st.integers(0, 255)
address_text = st.one_of(
    st.tuples(octets, octets, octets, octets).map(lambda t: ".".join(map(str, t))),
    st.text(alphabet="0123456789./: abcdefx\u0663", max_size=20),
    st.lists(st.integers(-5, 999).map(str), min_size=3, max_size=5).map(".".join),
)


def netaddr_int(text: str) -> int | None:
    try:
        return int(netaddr.IPAddress(text))
    except (netaddr.AddrFormatError, ValueError, TypeError):
        return None


@given(address_text)
def test_a_plain_ipv4_address_reads_as_netaddr_reads_it(text: str) -> None:
    fast = _ipv4(text)
    if fast is not None:
        assert fast == netaddr_int(text)
    # and parse_address as a whole agrees with netaddr, or both refuse
    expected = netaddr_int(text.strip())
    if expected is None:
        with pytest.raises(GenerationError):
            parse_address(text, "test")
    else:
        assert parse_address(text, "test") == expected


@given(st.tuples(octets, octets, octets, octets), st.integers(0, 32))
def test_a_plain_ipv4_cidr_reads_as_netaddr_reads_it(quad: tuple[int, ...], prefix: int) -> None:
    text = f"{'.'.join(map(str, quad))}/{prefix}"
    ours = _ipv4_network(text)
    theirs = netaddr.IPNetwork(text)
    assert ours is not None
    assert (ours.first, ours.last, ours.size, str(ours.netmask), ours.version) == (
        theirs.first,
        theirs.last,
        theirs.size,
        str(theirs.netmask),
        theirs.version,
    )


@pytest.mark.parametrize(
    "text", ["10.0.0.0/016", "10.0.0.0/33", "010.0.0.0/8", "10.0.0.0", "::/64"]
)
def test_other_spellings_are_left_to_netaddr(text: str) -> None:
    assert _ipv4_network(text) is None


def test_a_pool_hands_out_netaddrs_spelling() -> None:
    taken = TakenAddresses()
    pool = AddressPool("management", "172.29.236.0/22", taken, "test")
    for owner in ("a", "b", "c"):
        address = pool.allocate(owner)
        assert str(netaddr.IPAddress(address)) == address
        assert int(netaddr.IPAddress(address)) in taken
    six = AddressPool("v6", "fd00::/120", taken, "test")
    address = six.allocate("a")
    assert netaddr.IPAddress(address) in netaddr.IPNetwork("fd00::/120")
    assert str(netaddr.IPAddress(address)) == address
