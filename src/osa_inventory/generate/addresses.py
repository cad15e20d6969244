"""Address pools for ``cidr_networks``, without materialising them.

A pool is the host range of a CIDR minus what is taken: ``used_ips`` (single
addresses and ``first,last`` ranges, kept as merged intervals), host IPs and
every address already stored. A new address is chosen deterministically: a
hash of the network name and the container name gives a starting point in the
range, and the first free address from there on (wrapping round) is taken. The
same config into an empty store therefore gives the same addresses, and one
container's address does not depend on how many others were allocated before.
"""

from __future__ import annotations

import bisect
import hashlib
from collections.abc import Iterable
from typing import Any

from osa_inventory.errors import AddressPoolExhausted, GenerationError

IPV4_MAX = 2**32 - 1


def _ipv4(text: str) -> int | None:
    """A dotted-quad IPv4 address in its one unambiguous spelling (``10.0.0.1``) as an
    integer; None for anything else, which :mod:`netaddr` then reads.

    Nearly every address in a config is spelled so, and reading them without
    netaddr saves importing it on most runs.
    """
    parts = text.split(".")
    if len(parts) != 4:
        return None
    value = 0
    for part in parts:
        if not (0 < len(part) <= 3 and part.isascii() and part.isdigit()):
            return None
        if part[0] == "0" and len(part) > 1:  # leading zeros: octal to some readers
            return None
        number = int(part)
        if number > 255:
            return None
        value = value << 8 | number
    return value


def _ipv4_text(address: int) -> str:
    return f"{address >> 24}.{address >> 16 & 255}.{address >> 8 & 255}.{address & 255}"


def _address_int(text: str) -> int:
    """An address as an integer; raises what netaddr raises for text it cannot read."""
    fast = _ipv4(text)
    if fast is not None:
        return fast
    import netaddr

    return int(netaddr.IPAddress(text))


def _address_errors() -> tuple[type[Exception], ...]:
    import netaddr

    return (netaddr.AddrFormatError, ValueError, TypeError)


def _stable_int(text: str) -> int:
    return int.from_bytes(hashlib.blake2b(text.encode(), digest_size=8).digest(), "big")


class TakenAddresses:
    """Addresses that no pool may hand out: single ones and merged ranges."""

    def __init__(self) -> None:
        self.singles: set[int] = set()
        self._ranges: list[tuple[int, int]] = []
        self._starts: list[int] = []

    def add(self, address: int) -> None:
        self.singles.add(address)

    def add_range(self, first: int, last: int) -> None:
        if last < first:
            first, last = last, first
        self._ranges.append((first, last))
        self._ranges.sort()
        merged: list[tuple[int, int]] = []
        for start, end in self._ranges:
            if merged and start <= merged[-1][1] + 1:
                merged[-1] = (merged[-1][0], max(merged[-1][1], end))
            else:
                merged.append((start, end))
        self._ranges = merged
        self._starts = [start for start, _ in merged]

    def range_end(self, address: int) -> int | None:
        """The last address of the taken range holding ``address``, if any."""
        index = bisect.bisect_right(self._starts, address) - 1
        if index >= 0 and self._ranges[index][1] >= address:
            return self._ranges[index][1]
        return None

    def __contains__(self, address: int) -> bool:
        return address in self.singles or self.range_end(address) is not None


def parse_address(text: object, where: str) -> int:
    """An IP address as an integer, or a one-line error naming ``where``."""
    try:
        return _address_int(str(text).strip())
    except _address_errors() as exc:
        raise GenerationError(f"{where}: {text!r} is not an IP address; fix the value") from exc


def load_used_ips(entries: object, taken: TakenAddresses, where: str) -> None:
    """Reserve ``used_ips``: a list of addresses and ``first,last`` ranges."""
    if entries is None:
        return
    if not isinstance(entries, list):
        raise GenerationError(
            f"{where}: used_ips must be a list of addresses or 'first,last' ranges"
        )
    for entry in entries:
        parts = [part for part in str(entry).split(",") if part.strip()]
        if not parts:
            raise GenerationError(f"{where}: used_ips holds an empty entry; remove it")
        if len(parts) == 1:
            taken.add(parse_address(parts[0], f"{where}: used_ips"))
        else:
            taken.add_range(
                parse_address(parts[0], f"{where}: used_ips"),
                parse_address(parts[-1], f"{where}: used_ips"),
            )


class _IPv4Network:
    """What the pool needs of a ``netaddr.IPNetwork``, for a plainly spelled IPv4 CIDR."""

    version = 4

    def __init__(self, address: int, prefix: int) -> None:
        hostmask = (1 << (32 - prefix)) - 1
        self.first = address & (IPV4_MAX ^ hostmask)
        self.last = self.first | hostmask
        self.size = hostmask + 1
        self.netmask = _ipv4_text(IPV4_MAX ^ hostmask)


def _ipv4_network(text: str) -> Any:
    """``a.b.c.d/prefix`` (plain spelling, prefix 0 to 32) read without netaddr, else None."""
    address, slash, prefix = text.partition("/")
    if not slash or not (0 < len(prefix) <= 2 and prefix.isascii() and prefix.isdigit()):
        return None
    if prefix[0] == "0" and len(prefix) > 1:
        return None
    value = _ipv4(address)
    if value is None or int(prefix) > 32:
        return None
    return _IPv4Network(value, int(prefix))


class AddressPool:
    """The free host addresses of one ``cidr_networks`` entry."""

    def __init__(self, name: str, cidr: str, taken: TakenAddresses, where: str) -> None:
        network = _ipv4_network(str(cidr))
        if network is None:
            import netaddr

            try:
                network = netaddr.IPNetwork(str(cidr))
            except _address_errors() as exc:
                raise GenerationError(
                    f"{where}: cidr_networks.{name} = {cidr!r} is not a CIDR such as 10.0.0.0/22"
                ) from exc
        self.name = name
        self.cidr = str(cidr)
        self.netmask = str(network.netmask)
        self.version = network.version
        first, last = network.first, network.last
        # The network address is never handed out; nor is the IPv4 broadcast.
        if network.size > 2:
            first += 1
            if network.version == 4:
                last -= 1
        self.first = first
        self.last = last
        self.taken = taken

    @property
    def size(self) -> int:
        return self.last - self.first + 1

    def __contains__(self, address: int) -> bool:
        return self.first <= address <= self.last

    def allocate(self, owner: str) -> str:
        """Take a free address for ``owner`` and mark it as taken."""
        size = self.size
        if size <= 0:
            self._exhausted(owner)
        candidate = self.first + _stable_int(f"{self.name}|{owner}") % size
        stepped = 0
        singles = self.taken.singles
        while stepped < size:
            if candidate in singles:  # first: dense blocks of host addresses are singles
                stepped += 1
                candidate += 1
            elif (end := self.taken.range_end(candidate)) is not None:
                skip = min(end, self.last) - candidate + 1  # a whole used_ips range at once
                stepped += skip
                candidate += skip
            else:
                self.taken.add(candidate)
                if self.version == 4:
                    return _ipv4_text(candidate)
                import netaddr

                return str(netaddr.IPAddress(candidate, self.version))
            if candidate > self.last:
                candidate = self.first
        self._exhausted(owner)
        raise AssertionError("unreachable")

    def _exhausted(self, owner: str) -> None:
        raise AddressPoolExhausted(
            f"cidr_networks.{self.name} ({self.cidr}) has no free address left for {owner}: "
            "widen the network or shrink used_ips in openstack_user_config.yml"
        )


def reserve_all(taken: TakenAddresses, addresses: Iterable[object]) -> None:
    """Mark addresses as taken, ignoring values that are not addresses."""
    for text in addresses:
        if not text:
            continue
        try:
            taken.add(_address_int(str(text)))
        except _address_errors():
            continue
