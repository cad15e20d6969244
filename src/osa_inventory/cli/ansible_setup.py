"""``osa-inventory ansible-setup``: make OSA's Ansible read the inventory through osa-inventory.

The work is in :mod:`osa_inventory.ansible.setup`; this module parses the flags
and prints what was done (or, with ``--check``, what is missing).
"""

from __future__ import annotations

import argparse
import shlex
import sys

from osa_inventory.ansible import setup


def add_commands(commands: argparse._SubParsersAction, parent: argparse.ArgumentParser) -> None:
    from osa_inventory.defaults import default_config_dir, default_osa_root

    parser = commands.add_parser(
        "ansible-setup",
        help="make OSA's openstack-ansible read the inventory through osa-inventory",
        description="Write an inventory source into OSA's inventory folder (so its group_vars "
        "and host_vars apply) and the ANSIBLE_INVENTORY line in the config dir's user.rc that "
        "keeps OSA's inventory.ini files. Running it again changes nothing.",
    )
    parser.add_argument(
        "--osa-root",
        default=default_osa_root(),
        metavar="DIR",
        help="OSA's checkout (default: $OSA_ROOT, else /opt/openstack-ansible)",
    )
    parser.add_argument(
        "--config",
        default=default_config_dir(),
        metavar="DIR",
        help="OSA's config dir (default: $OSA_CONFIG_DIR, else /etc/openstack_deploy)",
    )
    kind = parser.add_mutually_exclusive_group()
    kind.add_argument(
        "--script",
        dest="mode",
        action="store_const",
        const=setup.SCRIPT,
        help="a script that runs osa-inventory, which generates as OSA's script does "
        "(default when the Python that runs Ansible does not find the plugin)",
    )
    kind.add_argument(
        "--plugin",
        dest="mode",
        action="store_const",
        const=setup.PLUGIN,
        help=f"a config of the {setup.COLLECTION_PLUGIN} plugin, which generates as the "
        "script does, in Ansible's own process (osa-inventory must be installed in Ansible's "
        "Python; default when it is). Without either flag a host keeps the mode it is set up "
        "with",
    )
    action = parser.add_mutually_exclusive_group()
    action.add_argument(
        "--check",
        action="store_true",
        help="change nothing; exit 1 and print one line per problem unless the setup is complete",
    )
    action.add_argument(
        "--undo", action="store_true", help="remove what ansible-setup wrote: OSA's setup again"
    )
    parser.set_defaults(func=run, debug=False)


def run(args: argparse.Namespace) -> int:
    layout = setup.Layout.of(args.osa_root, args.config)
    if args.undo:
        return _undo(layout)
    mode, reach, notes = _choose_mode(args.mode, layout)
    plan = setup.setup_changes(layout, mode)
    if args.check:
        return _check(layout, mode, plan, reach)
    for line in setup.apply(plan):
        print(line)
    for note in [*notes, *plan.notes]:
        print(f"note: {note}")
    if not plan.changes:
        print(f"nothing changed: {layout.user_rc} already uses {layout.source(mode)}")
    if reach:
        print(f"osa-inventory: warning: {reach}", file=sys.stderr)
    return 0


def _choose_mode(asked: str | None, layout: setup.Layout) -> tuple[str, str | None, list[str]]:
    """(mode, why Ansible's Python would not find the plugin in plugin mode, notes).

    The flag given, else the mode the host is set up with (a host set up with the
    script keeps it), else the plugin when the Python that runs Ansible finds it
    (it spares every playbook a process and a JSON round trip), else the script.
    """
    mode = asked or setup.installed_mode(layout)
    if mode == setup.SCRIPT:
        return mode, None, []
    reach = setup.plugin_reach_problem()
    if mode == setup.PLUGIN:
        return mode, reach, []
    if reach is None:
        return setup.PLUGIN, None, []
    note = f"the script, not the plugin: {reach}, then run {setup.COMMAND} --plugin"
    return setup.SCRIPT, None, [note]


def _check(layout: setup.Layout, mode: str, plan: setup.Plan, reach: str | None) -> int:
    problems = plan.blockers + [change.problem for change in plan.changes]
    problems += [reach] if reach else []
    for problem in problems:
        print(problem)
    if problems:
        fix = ["osa-inventory", "ansible-setup", f"--{mode}"]
        fix += ["--osa-root", str(layout.osa_root), "--config", str(layout.config_dir)]
        print(f"osa-inventory: to fix: {shlex.join(fix)}", file=sys.stderr)
        return 1
    print(f"complete: ANSIBLE_INVENTORY={layout.ansible_inventory(mode)} (from {layout.user_rc})")
    return 0


def _undo(layout: setup.Layout) -> int:
    done = setup.apply(setup.undo_changes(layout))
    for line in done:
        print(line)
    if not done:
        where = f"{layout.user_rc} or {layout.inventory_dir}"
        print(f"nothing to undo: nothing of {setup.COMMAND} in {where}")
    return 0
