"""The S3 result store against a server that verifies SigV4 signatures (test/services/s3.sh):
objects land as PREFIX/ID.json, status reads them back through serve, and bad credentials or a
missing bucket stop `pfo3 work` at start with exit status 2 and a message naming the cause.

Needs $PFO3_TEST_S3_ENDPOINT (test/run exports it with $PFO3_TEST_S3_BUCKET and the keys).
"""
import datetime
import hashlib
import hmac
import json
import os
import urllib.error
import urllib.parse
import urllib.request
import uuid

import pytest

ENDPOINT = os.environ.get("PFO3_TEST_S3_ENDPOINT")
BUCKET = os.environ.get("PFO3_TEST_S3_BUCKET", "pfo3-test")
REGION = "us-east-1"

pytestmark = pytest.mark.skipif(not ENDPOINT, reason="needs PFO3_TEST_S3_ENDPOINT (test/run starts the server)")


def s3_uri(prefix, bucket=BUCKET):
    return f"s3://{bucket}/{prefix}?endpoint={ENDPOINT}&region={REGION}"


@pytest.fixture
def prefix():
    """A key prefix of this test's own, so tests never see each other's objects."""
    return f"itest/{uuid.uuid4().hex[:12]}"


def get_object(key):
    """GETs BUCKET/key with a SigV4 signature made here (independent of libcurl's): the text,
    or None on 404."""
    access = os.environ["AWS_ACCESS_KEY_ID"]
    secret = os.environ["AWS_SECRET_ACCESS_KEY"]
    url = urllib.parse.urlsplit(ENDPOINT)
    path = "/" + BUCKET + "/" + urllib.parse.quote(key, safe="/-._~")
    now = datetime.datetime.now(datetime.timezone.utc)
    amz_date, day = now.strftime("%Y%m%dT%H%M%SZ"), now.strftime("%Y%m%d")
    payload = hashlib.sha256(b"").hexdigest()
    headers = {"host": url.netloc, "x-amz-content-sha256": payload, "x-amz-date": amz_date}
    signed = ";".join(sorted(headers))
    canonical = "\n".join(["GET", path, ""] + [f"{k}:{headers[k]}" for k in sorted(headers)] +
                          ["", signed, payload])
    scope = f"{day}/{REGION}/s3/aws4_request"
    to_sign = "\n".join(["AWS4-HMAC-SHA256", amz_date, scope, hashlib.sha256(canonical.encode()).hexdigest()])
    key_bytes = ("AWS4" + secret).encode()
    for part in (day, REGION, "s3", "aws4_request"):
        key_bytes = hmac.new(key_bytes, part.encode(), hashlib.sha256).digest()
    signature = hmac.new(key_bytes, to_sign.encode(), hashlib.sha256).hexdigest()
    headers["authorization"] = (f"AWS4-HMAC-SHA256 Credential={access}/{scope}, "
                                f"SignedHeaders={signed}, Signature={signature}")
    request = urllib.request.Request(ENDPOINT + path, headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.read().decode()
    except urllib.error.HTTPError as e:
        if e.code == 404:
            return None
        raise AssertionError(f"GET {path}: HTTP {e.code}: {e.read()[:300]!r}") from None


def status_lines(result):
    return [json.loads(line) for line in result.stdout.splitlines()]


@pytest.fixture
def s3_system(pfo3, queue, prefix):
    """serve and one worker, both on the S3 store under this test's prefix."""
    uri = s3_uri(prefix)
    serve = pfo3.serve(queue, env={"PFO3_STORE": uri})
    pfo3.work(queue, extra=["--store", uri])
    return serve


def test_each_result_is_the_object_prefix_id_json(pfo3, s3_system, prefix):
    r = pfo3.send(s3_system.address, ["uno", "dos y tres"], extra=["--wait=30"])

    assert r.returncode == 0, r.stderr
    for line, payload in zip(status_lines(r), ["uno", "dos y tres"]):
        text = get_object(f"{prefix}/{line['id']}.json")
        assert text is not None, f"no object {prefix}/{line['id']}.json"
        stored = json.loads(text)
        assert (stored["id"], stored["status"], stored["result"]) == (line["id"], "done", payload)


def test_status_through_serve_reads_the_s3_store(pfo3, s3_system):
    sent = pfo3.send(s3_system.address, ["hola"], extra=["--wait=30"])
    assert sent.returncode == 0, sent.stderr
    done_id = status_lines(sent)[0]["id"]

    r = pfo3.run(["status", "--server", s3_system.address, done_id, "never-submitted"])

    assert r.returncode == 0, r.stderr
    done, pending = status_lines(r)
    assert (done["id"], done["status"], done["result"]) == (done_id, "done", "hola")
    assert (pending["id"], pending["status"]) == ("never-submitted", "pending")


def test_a_wrong_secret_stops_work_at_start_with_exit_2_and_never_shows_the_secret(pfo3, queue, prefix):
    secret = "wrong-secret-0123456789"
    w = pfo3.work(queue, extra=["--store", s3_uri(prefix)], env={"AWS_SECRET_ACCESS_KEY": secret},
                  ready=False)

    assert w.wait_exit() == 2
    err = w.stderr()
    assert "SignatureDoesNotMatch" in err
    assert f"s3://{BUCKET}/{prefix}" in err, "the message names the store"
    assert secret not in err
    assert get_object(f"{prefix}/.pfo3-probe") is None, "nothing was written"


def test_a_missing_bucket_stops_work_at_start_with_exit_2(pfo3, queue, prefix):
    w = pfo3.work(queue, extra=["--store", s3_uri(prefix, bucket="no-such-bucket-pfo3")], ready=False)

    assert w.wait_exit() == 2
    err = w.stderr()
    assert "NoSuchBucket" in err and "no-such-bucket-pfo3" in err


def test_missing_credentials_stop_work_at_start_with_exit_2(pfo3, queue, prefix):
    w = pfo3.work(queue, extra=["--store", s3_uri(prefix)], env={"AWS_ACCESS_KEY_ID": ""}, ready=False)

    assert w.wait_exit() == 2
    assert "AWS_ACCESS_KEY_ID" in w.stderr()


def test_two_workers_on_one_store_write_every_result_under_its_key(pfo3, queue, s3_system, prefix):
    # Two workers share the store and the queue: each result lands once, under its own key.
    pfo3.work(queue, extra=["--store", s3_uri(prefix)])
    r = pfo3.send(s3_system.address, [str(i) for i in range(50)], extra=["--wait=60"])

    assert r.returncode == 0, r.stderr
    lines = status_lines(r)
    assert len({l["id"] for l in lines}) == 50
    for l in lines:
        assert json.loads(get_object(f"{prefix}/{l['id']}.json"))["result"] == l["result"]


def config_with_keys(tmp_path, secret, mode):
    """A config file holding the S3 keys (this process's key id, `secret`), chmod `mode`."""
    path = tmp_path / "pfo3-s3.toml"
    path.write_text(f'[store]\ns3_access_key_id = "{os.environ["AWS_ACCESS_KEY_ID"]}"\n'
                    f's3_secret_access_key = "{secret}"\n')
    path.chmod(mode)
    return path


#: The environment's keys set empty: empty counts as unset, so the config's keys are used.
NO_ENV_KEYS = {"AWS_ACCESS_KEY_ID": "", "AWS_SECRET_ACCESS_KEY": "", "AWS_SESSION_TOKEN": ""}


def test_credentials_from_the_config_file_store_results(pfo3, queue, prefix, tmp_path):
    config = config_with_keys(tmp_path, os.environ["AWS_SECRET_ACCESS_KEY"], 0o600)
    uri = s3_uri(prefix)
    serve = pfo3.serve(queue, env={"PFO3_STORE": uri, **NO_ENV_KEYS}, config=config)
    worker = pfo3.work(queue, extra=["--store", uri], env=NO_ENV_KEYS, config=config)

    r = pfo3.send(serve.address, ["from the file"], extra=["--wait=30"])

    assert r.returncode == 0, r.stderr
    line = status_lines(r)[0]
    assert json.loads(get_object(f"{prefix}/{line['id']}.json"))["result"] == "from the file"
    assert "group or others may read it" not in worker.stderr(), "mode 600 draws no warning"


def test_a_wrong_secret_in_a_readable_config_exits_2_and_warns_without_showing_it(pfo3, queue, prefix,
                                                                                  tmp_path):
    secret = "wrong-file-secret-4711"
    config = config_with_keys(tmp_path, secret, 0o644)
    w = pfo3.work(queue, extra=["--store", s3_uri(prefix)], env=NO_ENV_KEYS, config=config, ready=False)

    assert w.wait_exit() == 2
    err = w.stderr()
    assert "SignatureDoesNotMatch" in err and f"s3://{BUCKET}/{prefix}" in err
    assert "check store.s3_secret_access_key" in err, "the message names the key to fix"
    assert "group or others may read it" in err and str(config) in err
    assert secret not in err
