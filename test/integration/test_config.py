"""Configuration: strict errors with file:line: key, precedence flag > env > file, masked secrets."""
import json

import pytest

from helpers.processes import free_port, write_file

BAD_CONFIGS = {
    # name: (text, line of the error, key named in the message)
    "unknown key": ("[amqp]\nqueue = \"q\"\n[serve]\nlisten = \"127.0.0.1:1\"\nbogus_key = 1\n",
                    5, "bogus_key"),
    "unknown table": ("[amqp]\nqueue = \"q\"\n\n[nonsense]\nx = 1\n", 4, "nonsense"),
    "wrong type": ("[work]\nprefetch = \"many\"\n", 2, "prefetch"),
    "impossible value": ("[work]\nconcurrency = 1\nprefetch = 0\n", 3, "prefetch"),
    "bad enum value": ("\n[amqp]\nqueue_type = \"stream-ish\"\n", 3, "queue_type"),
    "negative timeout": ("[serve]\nidle_timeout_s = -5\n", 2, "idle_timeout_s"),
    "bad handler": ("[handlers.x]\ncommand = \"not-a-list\"\n", 2, "command"),
}


@pytest.mark.parametrize("case", sorted(BAD_CONFIGS))
def test_config_error_names_file_line_and_key_and_exits_2(pfo3, tmp_path, case):
    text, line, key = BAD_CONFIGS[case]
    config = write_file(tmp_path / "bad.toml", text)

    r = pfo3.run(["--config", str(config), "serve", "--listen", f"127.0.0.1:{free_port()}"],
                 timeout=20)

    assert r.returncode == 2, (r.returncode, r.stderr)
    assert f"{config}:{line}:" in r.stderr, r.stderr
    assert key in r.stderr, r.stderr


def test_toml_syntax_error_exits_2_naming_the_file(pfo3, tmp_path):
    config = write_file(tmp_path / "broken.toml", "[amqp]\nurl = \"unterminated\n")
    r = pfo3.run(["--config", str(config), "serve"], timeout=20)
    assert r.returncode == 2 and f"{config}:2" in r.stderr, r.stderr


def test_global_option_after_the_command_works_too(pfo3, tmp_path):
    config = write_file(tmp_path / "bad.toml", "[work]\nprefetch = 0\n")
    r = pfo3.run(["work", "--config", str(config)], timeout=20)
    assert r.returncode == 2 and f"{config}:2:" in r.stderr, r.stderr


def test_config_file_from_environment(pfo3, tmp_path):
    config = write_file(tmp_path / "bad.toml", "[serve]\n\nmax_connections = \"lots\"\n")
    r = pfo3.run(["serve"], env={"PFO3_CONFIG": str(config)}, timeout=20)
    assert r.returncode == 2 and f"{config}:3:" in r.stderr, r.stderr


def test_missing_config_file_exits_2(pfo3, tmp_path):
    r = pfo3.run(["--config", str(tmp_path / "absent.toml"), "serve"], timeout=20)
    assert r.returncode == 2 and "absent.toml" in r.stderr, r.stderr


def test_pfo3_toml_in_working_directory_is_read(pfo3):
    write_file(pfo3.cwd / "pfo3.toml", "[send]\ntype = 7\n")
    r = pfo3.run(["send", "--server", f"127.0.0.1:{free_port()}", "x"], timeout=20)
    assert r.returncode == 2 and "pfo3.toml:2:" in r.stderr, r.stderr


@pytest.mark.parametrize("sources, winner", [
    (("file",), "file"),
    (("file", "env"), "env"),
    (("file", "env", "flag"), "flag"),
])
def test_queue_precedence_is_flag_then_env_then_file(pfo3, new_queue, broker, tmp_path, raw_client,
                                                      sources, winner):
    names = {"file": new_queue(), "env": new_queue(), "flag": new_queue()}
    config = write_file(tmp_path / "pfo3.toml", f"[amqp]\nqueue = \"{names['file']}\"\n")
    env = {"PFO3_QUEUE": names["env"]} if "env" in sources else {}
    serve = pfo3.serve(queue=names["flag"] if "flag" in sources else None, config=config, env=env)

    assert raw_client(serve.port).request({"id": "prec-1", "type": "echo", "payload": 1})["ok"] is True

    [(_, body)] = broker.get_messages(names[winner], 1)
    assert json.loads(body)["id"] == "prec-1"
    for source, name in names.items():
        if source != winner:
            assert not broker.message_count(name), f"{source} queue must not get the task"


def test_amqp_url_from_environment_beats_file(pfo3, queue, tmp_path, raw_client, broker):
    config = write_file(tmp_path / "pfo3.toml",
                        f"[amqp]\nurl = \"amqp://guest:guest@127.0.0.1:{free_port()}/%2f\"\n")
    serve = pfo3.serve(queue, config=config, amqp=False, env={"PFO3_AMQP_URL": pfo3.amqp_url})

    assert raw_client(serve.port).request({"id": "env-url", "type": "echo", "payload": 1})["ok"] is True
    assert broker.message_count(queue) == 1


def test_password_in_amqp_url_is_never_logged(pfo3, queue, raw_client, amqp_url):
    secret_url = amqp_url.replace("guest:guest@", "guest:s3cret@")
    assert "s3cret" in secret_url
    serve = pfo3.serve(queue, amqp=secret_url, extra=["--log-level", "debug"])

    # The broker refuses the login, so the task is not accepted.
    r = raw_client(serve.port).request({"id": "masked", "type": "echo", "payload": 1}, timeout=30)
    assert r["ok"] is False and r["error"] == "unavailable", r
    assert serve.terminate() == 0

    log = serve.stderr()
    assert log.strip(), "serve logged something about the failed login"
    assert "s3cret" not in log
    assert "guest:***@" in log, "the URL is logged with its password masked"
