"""``totalseg license``: store or show the licence key of the licensed tasks (the official
``totalseg_set_license``). The key goes where the official tool keeps it: ``license_number`` in
``$TOTALSEG_HOME_DIR/config.json`` (else ``~/.totalsegmentator/config.json``)."""

from __future__ import annotations

import argparse

from totalseg.models.license import GET_A_KEY, SERVER_ENV, LicenseAccess, check_key_format, key_state, set_key


def register(subparsers) -> None:
    p = subparsers.add_parser(
        "license", help="store or show the licence key of the licensed tasks",
        description=f"Store or show the licence key the licensed tasks need ({GET_A_KEY}).",
    )
    commands = p.add_subparsers(dest="license_command", metavar="ACTION", required=True)

    store = commands.add_parser(
        "set", help="check a key at the licence server and store it",
        description=f"Check a key at the licence server (${SERVER_ENV}, else the official one) and store it.",
    )
    store.add_argument("key", metavar="KEY", help="the key you received: aca_ and 14 more characters")
    store.add_argument("-sv", "--skip-validation", "--skip_validation", action="store_true",
                       dest="skip_validation", help="store the key without asking the licence server")
    store.set_defaults(handler=run_set)

    show = commands.add_parser("show", help="show the stored key and whether the licensed tasks can run")
    show.set_defaults(handler=run_show)


def run_set(args: argparse.Namespace) -> int:
    access = LicenseAccess.from_env()
    changed = set_key(access, check_key_format(args.key), validate=not args.skip_validation)
    print(f"licence key {'stored' if changed else 'already stored'} in {access.config_file}")
    return 0


def run_show(args: argparse.Namespace) -> int:
    state = key_state(LicenseAccess.from_env().home_dir)
    if state.usable:
        print(f"{state.describe()}; the licensed tasks can run")
        return 0
    print(f"{state.describe()}; run `totalseg license set KEY` ({GET_A_KEY})")
    return 1
