#!/usr/bin/env python3
"""Drive the RouterOS API simulator with librouteros (an independent client, from PyPI or Debian).

usage: crosscheck.py HOST PORT USER PASSWORD [--legacy]
Prints one JSON document with what the client saw. Exit 3 when librouteros is missing.
"""
import json
import sys

try:
    import librouteros
    from librouteros import connect
    from librouteros.exceptions import FatalError, TrapError
    from librouteros.login import plain, token
    from librouteros.query import Key, Or
except ImportError as error:  # the test turns this into a clear failure
    print(json.dumps({"error": "missing-librouteros", "detail": str(error)}))
    sys.exit(3)


def trap_of(call):
    try:
        call()
    except TrapError as error:
        return {"message": error.message, "category": error.category}
    return None


def raw_reply(api, *words, full=False):
    """Sends a sentence through librouteros' own codec and returns the raw reply up to !done."""
    api.protocol.writeSentence(*words)
    seen = []
    while True:
        reply_word, attributes = api.protocol.readSentence()
        seen.append([reply_word, *attributes] if full else reply_word)
        if reply_word == "!done":
            return seen


def main():
    host, port, user, password = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4]
    method = token if "--legacy" in sys.argv[5:] else plain
    out = {"librouteros": getattr(librouteros, "__version__", "unknown")}

    def login(secret):
        return connect(host=host, username=user, password=secret, port=port, login_method=method, timeout=10)

    try:
        login(password + "-wrong")
        out["wrong_password"] = None
    except TrapError as error:
        out["wrong_password"] = {"message": error.message, "category": error.category}

    api = login(password)
    out["resource_version"] = tuple(api.path("system", "resource"))[0]["version"]

    name, kind = Key("name"), Key("type")
    out["ether_interfaces"] = [row["name"] for row in api.path("interface").select(name, kind).where(kind == "ether")]
    out["not_ether"] = sorted(row["name"] for row in api.path("interface").select(name).where(kind != "ether"))

    addresses = api.path("ip", "address")
    out["address_id"] = addresses.add(address="192.0.2.10/24", interface="ether1", comment="mikrolb:test")
    out["duplicate_address_trap"] = trap_of(lambda: addresses.add(address="192.0.2.10/24", interface="ether1"))
    out["bad_interface_trap"] = trap_of(lambda: addresses.add(address="192.0.2.11/24", interface="nope0"))

    nat = api.path("ip", "firewall", "nat")
    ids = []
    for index, backend in enumerate(["10.0.0.1", "10.0.0.2", "10.0.0.3"]):
        every = 3 - index
        fields = {"chain": "dstnat", "action": "dst-nat", "dst-address": "192.0.2.10", "protocol": "tcp",
                  "dst-port": "80", "to-addresses": backend, "to-ports": "8080", "comment": "mikrolb:svc"}
        if every > 1:
            fields["nth"] = "%d,1" % every
        ids.append(nat.add(**fields))
    out["nat_ids"] = ids
    nat.update(**{".id": ids[0], "comment": "mikrolb:svc-renamed", "disabled": True})
    comment, to = Key("comment"), Key("to-addresses")
    queried = nat.select(Key(".id"), comment, to, Key("nth"), Key("disabled")).where(
        Or(comment == "mikrolb:svc-renamed", to == "10.0.0.3"))
    out["nat_query"] = [dict(row) for row in queried]
    nat.remove(ids[1])
    out["nat_after_remove"] = [row[".id"] for row in nat]
    out["remove_missing_trap"] = trap_of(lambda: nat.remove("*FFFF"))
    out["unknown_parameter_trap"] = trap_of(lambda: tuple(nat("add", chain="dstnat", **{"bogus-field": "1"})))
    out["no_such_command_trap"] = trap_of(lambda: tuple(api("/ip/firewall/nat/frobnicate")))
    out["empty_filter_print"] = list(api.path("ip", "firewall", "filter"))
    out["empty_print_reply_words"] = raw_reply(api, "/ip/firewall/filter/print")
    out["tagged_print"] = raw_reply(api, "/interface/print", "?name=ether1", "=.proplist=name", ".tag=seven", full=True)
    try:
        tuple(api("/quit"))
        out["quit"] = None
    except FatalError as error:
        out["quit"] = str(error)
    print(json.dumps(out, sort_keys=True))


if __name__ == "__main__":
    main()
