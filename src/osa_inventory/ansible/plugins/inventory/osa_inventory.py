"""The ``osa_inventory`` Ansible inventory plugin: an osa-inventory store read in Ansible's process.

By default it is for read-only consumers (a second operator's laptop, a CI
job): it opens the configured backend, reads the stored inventory and hands its
groups, children, group vars and host vars to Ansible, exactly as Ansible would
read them from ``osa-inventory --list``; it never generates, writes, locks or
records anything. With ``generate: true`` (the config ``osa-inventory
ansible-setup`` writes on a deploy host) it first brings the store up to date
with OSA's config, as ``osa-inventory --list`` does, in Ansible's process.
Ansible's inventory cache options apply (``cache: true``).
"""

from __future__ import annotations

import sys
from collections.abc import Mapping
from typing import Any

from ansible.errors import AnsibleParserError
from ansible.plugins.inventory import BaseInventoryPlugin, Cacheable, Constructable

DOCUMENTATION = r"""
name: osa_inventory
short_description: OpenStack-Ansible inventory read from an osa-inventory store
description:
  - Reads the inventory that the C(osa-inventory) command stored, from any of its
    backends (file, SQLite, PostgreSQL, MySQL, etcd, a plugin). Groups, children, group
    vars and host vars are the same as those of C(osa-inventory --list) used as an
    inventory script.
  - By default it never generates or writes; with O(generate) it first brings the
    store up to date with OSA's config, as C(osa-inventory --list) does.
  - Needs the osa-inventory Python package (with the extra of the backend, such as
    C(osa-inventory[postgresql])) in the Python that runs Ansible.
  - The config file name must end in C(osa_inventory.yml), C(osa_inventory.yaml),
    C(.osa.yml) or C(.osa.yaml).
  - Settings the file does not give (backend, its options, inventory name) come from
    osa.ini and C(OSA_INVENTORY_*) variables, as for the C(osa-inventory) command; the
    file's values win, like command-line flags.
extends_documentation_fragment:
  - inventory_cache
  - constructed
options:
  plugin:
    description: Marks this file as a configuration of this plugin.
    required: true
    choices: ['osa_inventory', 'osa_inventory.store.inventory']
  backend:
    description:
      - Backend name (C(file), C(sqlite), C(postgresql), C(mysql), C(etcd), a plugin's
        name) or the import path of a backend class, C(package.module:Class).
      - Default from osa.ini or C(OSA_INVENTORY_BACKEND), else C(file).
    type: str
  options:
    description:
      - Options of the backend, as in its C([backend:NAME]) section of osa.ini, for
        example C(url) or C(path). C(KEY_env) and C(KEY_file) read a value from an
        environment variable or a file.
      - SQL backends default to C(auto_upgrade=false) here, so that reading never
        creates or upgrades a schema.
    type: dict
    default: {}
  inventory_name:
    description: Named inventory within the backend (default from osa.ini, else C(default)).
    type: str
  unsafe_values:
    description:
      - Mark every value read from the store unsafe, so that Ansible never renders the
        Jinja in it (a stored C({{ lookup('pipe', ...) }}) stays text and runs nothing).
      - For read-only consumers that do not trust everyone who can write the store; OSA's
        playbooks need the Jinja in its variables rendered, so leave it off for them.
    type: bool
    default: false
  config_dir:
    description:
      - OSA's config directory (C(openstack_user_config.yml), C(conf.d/), C(env.d/));
        the C(file) backend reads C(openstack_inventory.json) there unless
        C(options.path) is given.
    type: path
    default: /etc/openstack_deploy
    env:
      - name: OSA_CONFIG_DIR
  generate:
    description:
      - Before reading, bring the store up to date with the inputs, as the
        C(osa-inventory) inventory script does on every run. When
        C(openstack_user_config.yml), C(conf.d/) or C(env.d/) changed since the stored
        version, generate the inventory and store the new version (under the store's
        lock, recorded in its history). When nothing changed, it reads the stored version.
      - For the deploy host, where the inventory is generated; it needs write access to
        the store. Leave it off for read-only consumers.
    type: bool
    default: false
  environment:
    description:
      - With O(generate), the directory holding OSA's base C(env.d/), as the
        C(osa-inventory) flag C(--environment).
      - Default C($OSA_ROOT/inventory), else C(/opt/openstack-ansible/inventory).
    type: path
"""

EXAMPLES = r"""
# prod.osa.yml: the inventory a deploy host keeps in PostgreSQL, read-only
plugin: osa_inventory
backend: postgresql
options:
  url: postgresql+psycopg://osa_reader@db1.example.com/osa
  password_env: OSA_DB_PASSWORD
cache: true
cache_plugin: ansible.builtin.jsonfile
cache_connection: ~/.cache/osa-inventory/ansible
cache_timeout: 600

# local.osa_inventory.yml: the file backend in /etc/openstack_deploy
plugin: osa_inventory
backend: file

# $OSA_ROOT/inventory/osa_inventory.yml on the deploy host (as ansible-setup writes it):
# generates when openstack_user_config.yml changed, like OSA's dynamic_inventory.py
plugin: osa_inventory.store.inventory
config_dir: /etc/openstack_deploy
environment: /opt/openstack-ansible/inventory
generate: true
"""

SUFFIXES = ("osa_inventory.yml", "osa_inventory.yaml", ".osa.yml", ".osa.yaml")
GROUP_KEYS = ("hosts", "vars", "children")


class InventoryModule(BaseInventoryPlugin, Constructable, Cacheable):
    """Ansible's entry point for ``plugin: osa_inventory``."""

    NAME = "osa_inventory"
    # the store holds what osa-inventory --list prints, which Ansible trusts as templates
    trusted_by_default = True

    def verify_file(self, path: str) -> bool:
        return super().verify_file(path) and path.endswith(SUFFIXES)

    def parse(self, inventory: Any, loader: Any, path: str, cache: bool = True) -> None:
        super().parse(inventory, loader, path, cache)
        self._read_config_data(path)
        self._unsafe = bool(self.get_option("unsafe_values"))
        if self._unsafe:  # ansible-core 2.19+: values not trusted as templates are data
            self.trusted_by_default = False
        key = self.get_cache_key(path)
        use_cache = bool(self.get_option("cache"))
        data: dict[str, Any] | None = None
        update_cache = use_cache and not cache  # --flush-cache: read the store, refresh
        if use_cache and cache:
            try:
                data = self._cache[key]
            except KeyError:
                update_cache = True
        if data is None:
            data = self._read_store(path)
        if update_cache:
            self._cache[key] = data
        self._populate(data)

    # -- reading the store --

    def _read_store(self, path: str) -> dict[str, Any]:
        try:
            from osa_inventory.errors import OsaInventoryError
            from osa_inventory.inventory import hostvars_of
        except ImportError:
            raise AnsibleParserError(
                f"osa_inventory ({path}): the osa-inventory package is not installed in the "
                f"Python that runs Ansible ({sys.executable}); install it there with pip"
            ) from None

        try:
            if self.get_option("generate"):
                return self._generated(path)
            store = self._open_store()
            try:
                snapshot = store.read()
            finally:
                store.close()
        except OsaInventoryError as exc:  # the product's one line; Ansible prints a chain in full
            from osa_inventory.redact import redact_text

            raise AnsibleParserError(f"osa_inventory ({path}): {redact_text(str(exc))}") from None
        if not hostvars_of(snapshot.inventory):
            raise AnsibleParserError(
                f"osa_inventory ({path}): store {store.label} holds no inventory yet; run "
                "osa-inventory on the deploy host to generate it, or set generate: true"
            )
        return snapshot.inventory

    def _settings(self) -> Any:
        from osa_inventory.settings import resolve_settings

        options = self.get_option("options") or {}
        if not isinstance(options, Mapping):
            raise AnsibleParserError("osa_inventory: 'options' must be a mapping of key: value")
        return resolve_settings(
            self.get_option("config_dir"),
            backend=self.get_option("backend"),
            backend_options=[f"{key}={_flag_value(key, value)}" for key, value in options.items()],
            name=self.get_option("inventory_name"),
        )

    def _open_store(self) -> Any:
        from osa_inventory.store import open_store

        # a reader: never a schema created or upgraded (reader_options), and the backend
        # itself rather than the local copy the command keeps for outages
        return open_store(self._settings(), local_copy=False, read_only=True)

    def _generated(self, path: str) -> dict[str, Any]:
        """The inventory brought up to date with the inputs, as ``osa-inventory --list``
        does it: the light road when it vouches for the stored head, else
        :func:`osa_inventory.run.refresh` on the store opened as the command opens it."""
        from osa_inventory.defaults import default_environment_dir
        from osa_inventory.fileio import parse_bytes
        from osa_inventory.fingerprint import input_fingerprint
        from osa_inventory.store.light import serve_unchanged

        settings = self._settings()
        config_dir = self.get_option("config_dir")
        environment = self.get_option("environment") or default_environment_dir()
        served = serve_unchanged(settings, lambda: input_fingerprint(config_dir, environment))
        if served is not None:
            for line in served.version.warnings:  # as refresh's fast path warns
                _warn(line)
            return parse_bytes(served.data, "stored inventory")
        from osa_inventory.run import Inputs, refresh
        from osa_inventory.store import open_store

        store = open_store(settings, warn=_warn)
        try:
            command = f"ansible inventory plugin {self.NAME} ({path})"
            refreshed = refresh(store, Inputs(config_dir, environment), warn=_warn, command=command)
        finally:
            store.close()
        # what the script prints (OSA's layout, keys sorted), so that Ansible meets the
        # groups and hosts in the same order; a generated inventory is in the generator's
        data = refreshed.data if refreshed.data is not None else refreshed.text().encode()
        return parse_bytes(data, "refreshed inventory")

    # -- filling Ansible's inventory --

    def _populate(self, data: Mapping[str, Any]) -> None:
        """Groups, children, vars and host vars, as Ansible's script plugin reads them."""
        hosts: list[str] = []
        seen: set[str] = set()
        for group, content in data.items():
            if group == "_meta":
                continue
            for host in self._add_group(group, content):
                if host not in seen:
                    seen.add(host)
                    hosts.append(host)
        hostvars = (data.get("_meta") or {}).get("hostvars") or {}
        direct = self._direct_setter()
        for host in hosts:
            for name, value in (hostvars.get(host) or {}).items():
                if direct is not None:
                    direct(host, name, value)
                else:
                    self.inventory.set_variable(host, name, self._value(value))
        self._construct(hosts)

    def _direct_setter(self) -> Any:
        """A faster way to hand Ansible a host variable, or None: ``set_variable``.

        ansible-core 2.19 passes every value given to ``set_variable`` through a
        visitor that copies it, tags each string trusted-as-template (this
        plugin's ``trusted_by_default``) and tags every part with its origin;
        for OSA's inventory that is most of what a playbook run pays for it. The
        same trust, applied here with ``ansible.template.trust_as_template`` to
        a copy of the value, given straight to the host, makes the same
        variables for about half the work (the copy also keeps what Ansible holds
        apart from the data, which its inventory cache may keep); only the origin
        tag (where a value came from, for Ansible's error messages) is left out.
        Each distinct text is trusted once and the trusted string shared (strings
        are immutable; mappings and lists are copied per host).
        Not with ``unsafe_values``: those values take ``set_variable``.
        """
        if self._unsafe:
            return None
        try:
            from ansible.template import trust_as_template
        except ImportError:  # before 2.19: set_variable stores the value as it is
            return None
        inventory = self.inventory
        hosts, groups = inventory.hosts, inventory.groups
        # A trusted string is immutable, so one serves every host that has the same text:
        # an OSA inventory repeats most of its strings (bridges, networks, groups).
        trusted_strings: dict[str, Any] = {}

        def trusted(value: Any) -> Any:
            if isinstance(value, str):
                found = trusted_strings.get(value)
                if found is None:
                    found = trusted_strings[value] = trust_as_template(value)
                return found
            if isinstance(value, dict):
                return {key: trusted(item) for key, item in value.items()}
            if isinstance(value, list):
                return [trusted(item) for item in value]
            return value

        def direct(host: str, name: str, value: Any) -> None:
            target = hosts.get(host)
            if target is None or host in groups:  # set_variable sets a group's of that name
                inventory.set_variable(host, name, value)
            else:
                target.set_variable(name, trusted(value))

        return direct

    def _add_group(self, group: str, content: Any) -> list[str]:
        name = self.inventory.add_group(group)
        if not isinstance(content, Mapping):
            content = {"hosts": content}
        elif not any(k in content for k in GROUP_KEYS):  # the script plugin's legacy reading
            content = {"hosts": [name], "vars": content}
        hosts = list(content.get("hosts") or [])
        for host in hosts:
            self.inventory.add_host(host, name)
        for var, value in (content.get("vars") or {}).items():
            self.inventory.set_variable(name, var, self._value(value))
        for child in content.get("children") or []:
            self.inventory.add_child(name, self.inventory.add_group(child))
        return hosts

    def _value(self, value: Any) -> Any:
        """A value as handed to Ansible: marked unsafe (never rendered) with unsafe_values."""
        if not getattr(self, "_unsafe", False):
            return value
        from ansible.utils.unsafe_proxy import wrap_var  # older ansible-core: AnsibleUnsafe

        return wrap_var(value)

    def _construct(self, hosts: list[str]) -> None:
        """Apply ``compose``, ``groups`` and ``keyed_groups`` when the config has any."""
        compose = self.get_option("compose")
        groups = self.get_option("groups")
        keyed = self.get_option("keyed_groups")
        if not (compose or groups or keyed):
            return
        strict = self.get_option("strict")
        for host in hosts:
            variables = self.inventory.get_host(host).get_vars()
            self._set_composite_vars(compose, variables, host, strict=strict)
            self._add_host_to_composed_groups(groups, variables, host, strict=strict)
            self._add_host_to_keyed_groups(keyed, variables, host, strict=strict)


def _warn(message: str) -> None:
    """A warning of osa-inventory's, on stderr through Ansible's display."""
    from ansible.utils.display import Display

    from osa_inventory.redact import redact_text

    Display().warning(f"osa-inventory: {redact_text(message)}")


def _flag_value(key: str, value: Any) -> str:
    """A backend option from YAML as the text ``--backend-option key=value`` would give."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if value is None or isinstance(value, (Mapping, list)):
        raise AnsibleParserError(
            f"osa_inventory: option {key} must be a single value (text, number or boolean)"
        )
    return str(value)
