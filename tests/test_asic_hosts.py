"""HOST arguments of bench asic: addresses, names, ranges, networks and @files; bad ones refused."""

import pytest

from bench.asic.hosts import MAX_HOSTS, expand_hosts
from bench.errors import BenchError


def test_addresses_names_ranges_and_networks_in_order_each_once():
    hosts = expand_hosts(["10.0.0.5", "miner-a.local", "10.0.0.1-10.0.0.3", "10.0.1.254-255", "10.0.2.0/30",
                          "10.0.0.5"])
    assert hosts == ["10.0.0.5", "miner-a.local", "10.0.0.1", "10.0.0.2", "10.0.0.3", "10.0.1.254", "10.0.1.255",
                     "10.0.2.1", "10.0.2.2"]


def test_range_across_an_octet_boundary():
    assert expand_hosts(["10.0.0.254-10.0.1.1"]) == ["10.0.0.254", "10.0.0.255", "10.0.1.0", "10.0.1.1"]


def test_host_file_with_comments_blank_lines_and_ranges(tmp_path):
    listing = tmp_path / "farm.txt"
    listing.write_text("# row 1\n10.0.0.1  # S21\n\n10.0.0.7-8, bitaxe.lan\n")
    assert expand_hosts([f"@{listing}", "10.0.0.1"]) == ["10.0.0.1", "10.0.0.7", "10.0.0.8", "bitaxe.lan"]


@pytest.mark.parametrize("argument, says", [
    ("10.0.0.9-10.0.0.1", "ends before it starts"),
    ("10.0.0.1-300", "expected 10.0.0.1-10.0.0.20"),
    ("10.0.0.0/33", "not a network"),
    ("10.0.0.0/8", "more than"),
    ("0.0.0.0-255.255.255.255", "more than"),
    ("bad host", "not an address, name or range"),
    ("a..b", "not an address, name or range"),
    ("@/nonexistent/hosts.txt", "no such host file"),
])
def test_bad_hosts_are_refused_naming_them(argument, says):
    with pytest.raises(BenchError, match=says):
        expand_hosts([argument])


def test_empty_and_nested_host_files_are_refused(tmp_path):
    empty = tmp_path / "empty.txt"
    empty.write_text("# nothing here\n\n")
    with pytest.raises(BenchError, match="names no host"):
        expand_hosts([f"@{empty}"])
    nested = tmp_path / "nested.txt"
    nested.write_text(f"@{empty}\n")
    with pytest.raises(BenchError, match="cannot name another host file"):
        expand_hosts([f"@{nested}"])


def test_the_host_limit_is_what_a_range_may_hold():
    assert len(expand_hosts(["10.0.0.0-10.0.255.255"])) == MAX_HOSTS
