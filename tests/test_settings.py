"""Settings: defaults < osa.ini < environment < flags, secret references, ``config show``.

Every test points ``OSA_INVENTORY_CONFIG`` at a file in ``tmp_path`` (which may
not exist) so that a real ``/etc/ansible/osa.ini`` never leaks in, and passes the
environment explicitly (``env=``, or a scrubbed copy for subprocesses).
"""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path
from typing import Any

import pytest

from conftest import CLI
from osa_inventory.errors import ConfigError
from osa_inventory.settings import MASK, Settings, resolve_settings

TESTS_DIR = Path(__file__).resolve().parent
SECRET = "hunter2-s3cr3t-value"


def ini_file(tmp_path: Path, text: str | None) -> Path:
    """Write osa.ini (or leave it missing when ``text`` is None) and return its path."""
    path = tmp_path / "osa.ini"
    if text is not None:
        path.write_text(text)
    return path


def resolve(
    tmp_path: Path,
    ini: str | None = None,
    env: dict[str, str] | None = None,
    config_dir: Path | None = None,
    **flags: Any,
) -> Settings:
    environment = {"OSA_INVENTORY_CONFIG": str(ini_file(tmp_path, ini)), **(env or {})}
    config = config_dir if config_dir is not None else tmp_path / "config"
    return resolve_settings(config, env=environment, **flags)


def config_error(tmp_path: Path, *args: Any, **kwargs: Any) -> str:
    """The message of the ConfigError that resolving raises; it must be one line."""
    with pytest.raises(ConfigError) as raised:
        resolve(tmp_path, *args, **kwargs)
    message = str(raised.value)
    assert "\n" not in message, message
    return message


def scrubbed_env(tmp_path: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("OSA_")}
    env["OSA_INVENTORY_CONFIG"] = str(tmp_path / "osa.ini")
    env.update(extra)
    return env


def config_show(env: dict[str, str], *args: object) -> subprocess.CompletedProcess:
    return subprocess.run(
        [str(CLI), "config", "show", *map(str, args)],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
        check=False,
    )


def config_show_json(env: dict[str, str], *args: object) -> dict[str, dict[str, Any]]:
    proc = config_show(env, "--format", "json", *args)
    assert proc.returncode == 0, proc.stderr
    assert proc.stderr == ""
    return json.loads(proc.stdout)


# -- defaults --------------------------------------------------------------------------------


def test_no_osa_ini_means_osas_own_file(tmp_path):
    """Without osa.ini the store is OSA's <config>/openstack_inventory.json."""
    settings = resolve(tmp_path, config_dir=tmp_path / "deploy")
    assert settings.ini_path is None
    assert (settings.backend.value, settings.backend.source) == ("file", "default")
    assert (settings.name.value, settings.name.source) == ("default", "default")
    assert (settings.lock_timeout.value, settings.lock_timeout.source) == (60.0, "default")
    assert settings.backend_options() == {
        "path": str(tmp_path / "deploy" / "openstack_inventory.json")
    }
    assert settings.options["path"].source == "default (--config)"


def test_named_inventory_of_the_file_backend(tmp_path):
    settings = resolve(tmp_path, config_dir=tmp_path / "deploy", name="staging")
    assert settings.options["path"].value == str(
        tmp_path / "deploy" / "openstack_inventory.staging.json"
    )
    from_env = resolve(tmp_path, env={"OSA_INVENTORY_NAME": "lab"}, config_dir=tmp_path)
    assert from_env.options["path"].value == str(tmp_path / "openstack_inventory.lab.json")


def test_named_file_inventories_keep_their_own_backups(tmp_path):
    from osa_inventory.store import open_backend

    def backend(name: str):
        settings = resolve(tmp_path, config_dir=tmp_path, name=name)
        return open_backend("file", {**settings.backend_options(), "backup_keep": "3"})

    default, staging = backend("default"), backend("staging")
    for step in range(3):
        default.write({"_meta": {"hostvars": {}}, "all": {"vars": {"step": step}}})
    kept = [v.version for v in default.list_versions()]
    assert kept == [1, 2, 3]
    for step in range(4):
        staging.write({"_meta": {"hostvars": {}}, "all": {"vars": {"staging": step}}})
    assert [v.version for v in default.list_versions()] == kept


def test_an_explicit_path_wins_over_the_named_default(tmp_path):
    settings = resolve(tmp_path, name="staging", backend_options=[f"path={tmp_path / 'mine.json'}"])
    assert settings.backend_options() == {"path": str(tmp_path / "mine.json")}


def test_other_backends_get_no_default_path(tmp_path):
    settings = resolve(tmp_path, backend="memory", name="staging")
    assert settings.backend_options() == {}
    assert settings.name.value == "staging"


def test_an_empty_osa_ini_means_defaults(tmp_path):
    settings = resolve(tmp_path, ini="; nothing configured yet\n")
    assert settings.ini_path == tmp_path / "osa.ini"
    assert settings.backend.value == "file"
    assert settings.options["path"].source == "default (--config)"


# -- precedence --------------------------------------------------------------------------------

LAYERS = ["default", "ini", "env", "flag"]


def layered(setting: str, top: str, skip: str = "") -> tuple[str | None, dict, dict]:
    """osa.ini text, env and flags setting ``setting`` in every layer up to ``top``."""
    wanted = LAYERS[1 : LAYERS.index(top) + 1]
    wanted = [layer for layer in wanted if layer != skip]
    ini_lines = ["[inventory]"]
    env: dict[str, str] = {}
    flags: dict[str, Any] = {}
    if setting == "option":
        ini_lines.append("backend = memory")
        ini_lines.append("[backend:memory]")
    if "ini" in wanted:
        ini_lines.append(
            {
                "backend": "backend = ini-backend",
                "name": "name = ini-name",
                "lock_timeout": "lock_timeout = 5",
                "option": "retention = 1",
            }[setting]
        )
    if "env" in wanted:
        key, value = {
            "backend": ("OSA_INVENTORY_BACKEND", "env-backend"),
            "name": ("OSA_INVENTORY_NAME", "env-name"),
            "lock_timeout": ("OSA_INVENTORY_LOCK_TIMEOUT", "7.5"),
            "option": ("OSA_INVENTORY_OPT_RETENTION", "2"),
        }[setting]
        env[key] = value
    if "flag" in wanted:
        key, value = {
            "backend": ("backend", "flag-backend"),
            "name": ("name", "flag-name"),
            "lock_timeout": ("lock_timeout", 9.0),
            "option": ("backend_options", ["retention=3"]),
        }[setting]
        flags[key] = value
    return "\n".join(ini_lines) + "\n", env, flags


EXPECTED = {
    ("backend", "default"): ("file", "default"),
    ("backend", "ini"): ("ini-backend", "{ini} [inventory]"),
    ("backend", "env"): ("env-backend", "env OSA_INVENTORY_BACKEND"),
    ("backend", "flag"): ("flag-backend", "--backend"),
    ("name", "default"): ("default", "default"),
    ("name", "ini"): ("ini-name", "{ini} [inventory]"),
    ("name", "env"): ("env-name", "env OSA_INVENTORY_NAME"),
    ("name", "flag"): ("flag-name", "--inventory-name"),
    ("lock_timeout", "default"): (60.0, "default"),
    ("lock_timeout", "ini"): (5.0, "{ini} [inventory]"),
    ("lock_timeout", "env"): (7.5, "env OSA_INVENTORY_LOCK_TIMEOUT"),
    ("lock_timeout", "flag"): (9.0, "--lock-timeout"),
    ("option", "default"): (None, None),
    ("option", "ini"): ("1", "{ini} [backend:memory]"),
    ("option", "env"): ("2", "env OSA_INVENTORY_OPT_RETENTION"),
    ("option", "flag"): ("3", "--backend-option"),
}


def value_of(settings: Settings, setting: str) -> tuple[Any, Any]:
    if setting == "option":
        item = settings.options.get("retention")
        return (item.value, item.source) if item else (None, None)
    item = getattr(settings, setting)
    return item.value, item.source


@pytest.mark.parametrize("top", LAYERS)
@pytest.mark.parametrize("setting", ["backend", "name", "lock_timeout", "option"])
def test_each_layer_beats_the_ones_below(tmp_path, setting, top):
    ini, env, flags = layered(setting, top)
    settings = resolve(tmp_path, ini, env, **flags)
    value, source = EXPECTED[(setting, top)]
    if source is not None:
        source = source.format(ini=tmp_path / "osa.ini")
    assert value_of(settings, setting) == (value, source)


@pytest.mark.parametrize("setting", ["backend", "name", "lock_timeout", "option"])
def test_a_flag_beats_osa_ini_without_an_env_var(tmp_path, setting):
    ini, env, flags = layered(setting, "flag", skip="env")
    assert env == {}
    settings = resolve(tmp_path, ini, env, **flags)
    assert value_of(settings, setting)[1].startswith("--")


def test_an_empty_env_var_counts_as_unset(tmp_path):
    settings = resolve(tmp_path, "[inventory]\nbackend = memory\n", {"OSA_INVENTORY_BACKEND": ""})
    assert settings.backend.value == "memory"


def test_options_come_from_the_section_of_the_chosen_backend(tmp_path):
    ini = (
        "[inventory]\nbackend = memory\n\n"
        "[backend:memory]\nretention = 4\n\n"
        "[backend:file]\nbackup_keep = 3\n"
    )
    assert resolve(tmp_path, ini).backend_options() == {"retention": "4"}
    by_flag = resolve(tmp_path, ini, backend="file")
    assert by_flag.backend_options() == {
        "backup_keep": "3",
        "path": str(tmp_path / "config" / "openstack_inventory.json"),
    }


def test_option_env_vars_are_lowercased(tmp_path):
    settings = resolve(tmp_path, env={"OSA_INVENTORY_OPT_BACKUP_KEEP": "9"})
    assert settings.options["backup_keep"].value == "9"
    assert settings.options["backup_keep"].source == "env OSA_INVENTORY_OPT_BACKUP_KEEP"


def test_the_worked_example_of_the_documentation(tmp_path):
    """The example in docs/configuration.md, 'Precedence'."""
    ini = (
        "[inventory]\n"
        "backend = file\n"
        "lock_timeout = 120\n"
        "\n"
        "[backend:file]\n"
        "path = /var/lib/osa/inventory.json\n"
        "backup_keep = 30\n"
    )
    settings = resolve(
        tmp_path,
        ini,
        {"OSA_INVENTORY_LOCK_TIMEOUT": "300", "OSA_INVENTORY_OPT_BACKUP_KEEP": "50"},
        backend_options=["path=/tmp/try.json"],
    )
    where = tmp_path / "osa.ini"
    rows = {name: (value, source) for name, value, source in settings.rows()}
    assert rows == {
        "backend": ("file", f"{where} [inventory]"),
        "name": ("default", "default"),
        "lock_timeout": ("300", "env OSA_INVENTORY_LOCK_TIMEOUT"),
        "option backup_keep": ("50", "env OSA_INVENTORY_OPT_BACKUP_KEEP"),
        "option path": ("/tmp/try.json", "--backend-option"),
    }


# -- osa.ini syntax ----------------------------------------------------------------------------


def test_inline_comments(tmp_path):
    ini = (
        "# osa.ini for the test cloud\n"
        "[inventory]\n"
        "backend = memory   ; keep it in the process\n"
        "name = lab         # the lab inventory\n"
        "lock_timeout = 30  ; seconds\n"
        "\n"
        "[backend:memory]\n"
        "; a full-line comment\n"
        "retention = 5 ; versions\n"
        "label = a;b       ; only ' ;' after a space starts a comment\n"
    )
    settings = resolve(tmp_path, ini)
    assert settings.backend.value == "memory"
    assert settings.name.value == "lab"
    assert settings.lock_timeout.value == 30.0
    assert settings.backend_options() == {"retention": "5", "label": "a;b"}


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("[inventroy]\nbackend = file\n", "unknown section [inventroy]; use [inventory] and"),
        ("[backend]\npath = x\n", "unknown section [backend]"),
        ("[inventory]\nbackend = file\npath = /x.json\n", "unknown key path in [inventory]"),
        (
            "[inventory]\nbakend = file\n",
            "known: allow_jinja_lookups, backend, cache_ttl, encryption_key_env, "
            "encryption_key_file, lock",
        ),
        ("backend = file\n", "line 1: 'backend = file' is outside any section"),
        ("[inventory]\nbackend = file\nthis is not a setting\n", "line 3: cannot parse"),
        ("[inventory]\nbackend = a\nbackend = b\n", "option 'backend' in section 'inventory'"),
        ("[inventory]\n[inventory]\n", "section 'inventory' already exists"),
    ],
    ids=[
        "unknown-section",
        "section-without-name",
        "unknown-key",
        "misspelt-key",
        "no-section",
        "garbage",
        "duplicate-key",
        "duplicate-section",
    ],
)
def test_bad_osa_ini_is_a_one_line_config_error(tmp_path, text, expected):
    message = config_error(tmp_path, text)
    assert expected in message
    assert message.startswith(f"{tmp_path / 'osa.ini'}: ")


def test_osa_ini_that_cannot_be_read(tmp_path):
    (tmp_path / "osa.ini").mkdir()
    assert "cannot read" in config_error(tmp_path)


@pytest.mark.parametrize("value", ["soon", "", "1m", "nan", "-1"])
@pytest.mark.parametrize("where", ["ini", "env"])
def test_bad_lock_timeout(tmp_path, value, where):
    if where == "ini":
        message = config_error(tmp_path, f"[inventory]\nlock_timeout = {value}\n")
        assert f"({tmp_path / 'osa.ini'} [inventory], line 2)" in message
    else:
        if value == "":
            # an empty variable counts as unset
            assert resolve(tmp_path, env={"OSA_INVENTORY_LOCK_TIMEOUT": ""}).lock_timeout.value
            return
        message = config_error(tmp_path, env={"OSA_INVENTORY_LOCK_TIMEOUT": value})
        assert "(env OSA_INVENTORY_LOCK_TIMEOUT)" in message
    assert f"lock_timeout {value!r}" in message


def test_lock_timeout_zero_means_do_not_wait(tmp_path):
    assert resolve(tmp_path, "[inventory]\nlock_timeout = 0\n").lock_timeout.value == 0.0


@pytest.mark.parametrize("name", ["../etc", "a/b", "", ".hidden", "two words"])
def test_bad_inventory_names(tmp_path, name):
    message = config_error(tmp_path, name=name)
    assert f"inventory name {name!r}" in message


def test_bad_backend_option_flag(tmp_path):
    assert "write it as key=value" in config_error(tmp_path, backend_options=["novalue"])


# -- secret references ----------------------------------------------------------------------


def test_option_env_reference(tmp_path):
    ini = "[backend:file]\npassword_env = OSA_TEST_DB_PASSWORD\n"
    settings = resolve(tmp_path, ini, {"OSA_TEST_DB_PASSWORD": SECRET})
    assert "password_env" not in settings.options
    assert settings.options["password"].value == SECRET
    assert settings.options["password"].source == "env OSA_TEST_DB_PASSWORD via password_env"


def test_option_file_reference(tmp_path):
    secret_file = tmp_path / "db-password"
    secret_file.write_text(SECRET + "\n")
    settings = resolve(tmp_path, f"[backend:file]\npassword_file = {secret_file}\n")
    assert "password_file" not in settings.options
    assert settings.options["password"].value == SECRET  # trailing newline stripped
    assert settings.options["password"].source == f"file {secret_file} via password_file"


def test_references_work_from_env_and_flags(tmp_path):
    secret_file = tmp_path / "token"
    secret_file.write_text("tok\n")
    settings = resolve(
        tmp_path,
        env={"OSA_INVENTORY_OPT_TOKEN_FILE": str(secret_file), "MY_PASS": SECRET},
        backend_options=["password_env=MY_PASS"],
    )
    assert settings.options["token"].value == "tok"
    assert settings.options["password"].value == SECRET


def test_missing_env_reference(tmp_path):
    message = config_error(tmp_path, "[backend:file]\npassword_env = OSA_TEST_UNSET_VARIABLE\n")
    assert "password_env" in message
    assert "OSA_TEST_UNSET_VARIABLE, which is not set" in message


@pytest.mark.parametrize("kind", ["missing", "directory"])
def test_unreadable_file_reference(tmp_path, kind):
    path = tmp_path / "secret"
    if kind == "directory":
        path.mkdir()
    message = config_error(tmp_path, f"[backend:file]\npassword_file = {path}\n")
    assert f"cannot read {path}" in message
    assert "password_file" in message


def test_a_higher_layer_beats_a_lower_layers_reference(tmp_path):
    """A flag giving the value itself beats osa.ini's reference to it, and vice versa."""
    ini = "[backend:file]\npassword_env = OSA_TEST_DB_PASSWORD\n"
    env = {"OSA_TEST_DB_PASSWORD": SECRET}
    settings = resolve(tmp_path, ini, env, backend_options=["password=from-flag"])
    assert settings.options["password"].value == "from-flag"
    assert settings.options["password"].source == "--backend-option"

    ini = "[backend:file]\npassword = from-ini\n"
    settings = resolve(tmp_path, ini, env, backend_options=["password_env=OSA_TEST_DB_PASSWORD"])
    assert settings.options["password"].value == SECRET


def test_a_value_and_its_reference_in_one_layer_conflict(tmp_path):
    ini = "[backend:file]\npassword = plain\npassword_env = OSA_TEST_DB_PASSWORD\n"
    message = config_error(tmp_path, ini, {"OSA_TEST_DB_PASSWORD": SECRET})
    assert "password" in message and "password_env" in message
    assert SECRET not in message


# -- config show (the real command) ---------------------------------------------------------------


def test_config_show_precedence_through_the_command(tmp_path):
    (tmp_path / "osa.ini").write_text(
        "[inventory]\nbackend = memory\nname = from-ini\nlock_timeout = 5\n\n"
        "[backend:memory]\nretention = 1\n"
    )
    env = scrubbed_env(tmp_path, OSA_INVENTORY_NAME="from-env", OSA_INVENTORY_OPT_RETENTION="2")
    shown = config_show_json(env, "--lock-timeout", "9", "--config", tmp_path)
    ini = tmp_path / "osa.ini"
    assert shown == {
        "backend": {"value": "memory", "source": f"{ini} [inventory]"},
        "name": {"value": "from-env", "source": "env OSA_INVENTORY_NAME"},
        "lock_timeout": {"value": 9, "source": "--lock-timeout"},  # numbers as numbers
        "option retention": {"value": 2, "source": "env OSA_INVENTORY_OPT_RETENTION"},
    }
    flags = ["--backend", "file", "--inventory-name", "x", "--backend-option", "backup_keep=4"]
    shown = config_show_json(env, *flags, "--config", tmp_path)
    assert shown["backend"] == {"value": "file", "source": "--backend"}
    assert shown["name"] == {"value": "x", "source": "--inventory-name"}
    assert shown["option backup_keep"] == {"value": 4, "source": "--backend-option"}
    assert shown["option path"] == {
        "value": str(tmp_path / "openstack_inventory.x.json"),
        "source": "default (--config)",
    }
    # OSA_INVENTORY_OPT_* apply to whichever backend is chosen; [backend:memory] does not
    assert shown["option retention"]["source"] == "env OSA_INVENTORY_OPT_RETENTION"


def test_config_show_without_osa_ini(tmp_path):
    deploy = tmp_path / "deploy"
    env = scrubbed_env(tmp_path, OSA_CONFIG_DIR=str(deploy))  # the default of --config
    shown = config_show_json(env)
    assert shown["backend"] == {"value": "file", "source": "default"}
    assert shown["option path"] == {
        "value": str(deploy / "openstack_inventory.json"),
        "source": "default (--config)",
    }
    table = config_show(env)
    assert table.returncode == 0, table.stderr
    assert table.stdout.splitlines()[0] == "osa.ini: none (defaults)"


def secrets_setup(tmp_path: Path) -> dict[str, str]:
    secret_file = tmp_path / "token"
    secret_file.write_text(SECRET + "-token\n")
    (tmp_path / "osa.ini").write_text(
        "[inventory]\nbackend = file\n\n"
        "[backend:file]\n"
        "password_env = OSA_TEST_DB_PASSWORD\n"
        f"token_file = {secret_file}\n"
        f"url = postgresql://osa:{SECRET}-url@db.example:5432/osa\n"
        "path = /srv/inventory.json\n"
    )
    return scrubbed_env(tmp_path, OSA_TEST_DB_PASSWORD=SECRET)


def test_config_show_masks_secrets_and_shows_sources(tmp_path):
    env = secrets_setup(tmp_path)
    extra = ["--backend-option", f"api_key={SECRET}-key", "--config", tmp_path]
    shown = config_show_json(env, *extra)
    ini = tmp_path / "osa.ini"
    assert shown["option password"] == {
        "value": MASK,
        "source": "env OSA_TEST_DB_PASSWORD via password_env",
    }
    assert shown["option token"] == {
        "value": MASK,
        "source": f"file {tmp_path / 'token'} via token_file",
    }
    assert shown["option api_key"] == {"value": MASK, "source": "--backend-option"}
    assert shown["option url"] == {
        "value": f"postgresql://osa:{MASK}@db.example:5432/osa",
        "source": f"{ini} [backend:file]",
    }
    assert shown["option path"] == {
        "value": "/srv/inventory.json",
        "source": f"{ini} [backend:file]",
    }
    for output in ("json", "table"):
        proc = config_show(env, "--format", output, *extra)
        assert proc.returncode == 0, proc.stderr
        assert SECRET not in proc.stdout + proc.stderr
        assert MASK in proc.stdout
        assert "env OSA_TEST_DB_PASSWORD via password_env" in proc.stdout


def test_config_show_masks_options_a_backend_declares_secret(tmp_path):
    """``Option(secret=True)`` masks an option whatever its name."""
    env = scrubbed_env(tmp_path, PYTHONPATH=str(TESTS_DIR))
    backend = "plugins_for_tests:DeclaresSecret"
    shown = config_show_json(
        env, "--backend", backend, "--backend-option", f"dsn={SECRET}",
        "--backend-option", "region=north",
    )  # fmt: skip
    assert shown["option dsn"] == {"value": MASK, "source": "--backend-option"}
    assert shown["option region"] == {"value": "north", "source": "--backend-option"}


def test_config_show_masks_declared_secrets_of_a_backend_missing_its_dependency(tmp_path):
    env = scrubbed_env(tmp_path, PYTHONPATH=str(TESTS_DIR))
    backend = "plugins_for_tests:NeedsPostgres"
    shown = config_show_json(env, "--backend", backend, "--backend-option", f"url={SECRET}")
    assert shown["option url"] == {"value": MASK, "source": "--backend-option"}


def test_config_show_works_when_the_backend_cannot_be_loaded(tmp_path):
    """config show is how one diagnoses a bad backend setting: it must not need it."""
    env = scrubbed_env(tmp_path)
    shown = config_show_json(env, "--backend", "nosuch", "--backend-option", f"password={SECRET}")
    assert shown["backend"] == {"value": "nosuch", "source": "--backend"}
    assert shown["option password"]["value"] == MASK


def test_config_show_reports_a_bad_osa_ini_on_one_line(tmp_path):
    (tmp_path / "osa.ini").write_text("[inventory]\nbackend = file\ncolour = blue\n")
    proc = config_show(scrubbed_env(tmp_path))
    assert proc.returncode == 2
    assert proc.stdout == ""
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1
    assert lines[0].startswith("osa-inventory: error: ")
    assert "unknown key colour in [inventory]" in lines[0]


def test_config_show_never_prints_a_referenced_secret_file(tmp_path):
    """Even when the reference is broken, the error names the file, not its content."""
    secret = tmp_path / "secret-dir"
    secret.mkdir()
    (tmp_path / "osa.ini").write_text(f"[backend:file]\npassword_file = {secret}\n")
    proc = config_show(scrubbed_env(tmp_path))
    assert proc.returncode == 2
    assert f"cannot read {secret}" in proc.stderr
    assert "Traceback" not in proc.stderr
