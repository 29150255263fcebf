"""Licence keys for the licensed tasks, kept where the official tool keeps them.

The key is the ``license_number`` entry of ``<home_dir>/config.json``, the official tool's config
file, so a key stored by either tool serves both. Before a licensed task runs, the stored key is
checked offline as the official tool checks it (it must have 18 characters); the licence server
is asked only when a key is stored (unless told not to) and when licensed weights are downloaded.

The server is the official one unless ``$TOTALSEG_LICENSE_SERVER`` names another (a mirror, or a
local server in tests); only the entry points read it, through :meth:`LicenseAccess.from_env`.
"""

from __future__ import annotations

import http.client
import json
import os
import random
import string
import time
import urllib.error
import urllib.request
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NamedTuple

from tqdm import tqdm

from totalseg import __version__
from totalseg.errors import DownloadError, InputError
from totalseg.io.atomic import atomic_write_text
from totalseg.models.tasks import ModelSpec, catalog
from totalseg.settings import Settings
from totalseg.transfer.download import CHUNK_BYTES, check_free_space

DEFAULT_SERVER = "https://backend.totalsegmentator.com:443"
SERVER_ENV = "TOTALSEG_LICENSE_SERVER"
ACADEMIC_LICENSE_URL = "https://backend.totalsegmentator.com/license-academic/"
OFFICIAL_VERSION = "2.18.0"  # the version totalseg reproduces; the server hands out weights for it
KEY_LENGTH = 18
KEY_PREFIX = "aca_"
GET_A_KEY = f"a free key for non-commercial use: {ACADEMIC_LICENSE_URL}"
_SKIP_VALIDATION = "store the key unchecked: `totalseg license set KEY --skip-validation`"


@dataclass(frozen=True)
class LicenseAccess:
    """Where the licence key is kept (``<home_dir>/config.json``) and which server checks it.

    Examples:
        >>> access = LicenseAccess(Path("/data/ts"))
        >>> access.config_file.as_posix(), access.server
        ('/data/ts/config.json', 'https://backend.totalsegmentator.com:443')
        >>> LicenseAccess.from_env({"TOTALSEG_HOME_DIR": "/h", "TOTALSEG_LICENSE_SERVER": "http://127.0.0.1:8/"}).server
        'http://127.0.0.1:8'
    """

    home_dir: Path
    server: str = DEFAULT_SERVER

    def __post_init__(self) -> None:
        object.__setattr__(self, "home_dir", Path(self.home_dir))
        object.__setattr__(self, "server", self.server.rstrip("/"))

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None, *, home_dir: Path | None = None) -> LicenseAccess:
        """``home_dir`` (else :class:`Settings`' one) and ``$TOTALSEG_LICENSE_SERVER`` (else the official server)."""
        env = os.environ if environ is None else environ
        home = Settings.from_env(env).home_dir if home_dir is None else home_dir
        return cls(home, env.get(SERVER_ENV) or DEFAULT_SERVER)

    @property
    def config_file(self) -> Path:
        return self.home_dir / "config.json"


class KeyState(NamedTuple):
    """The stored key as the official offline check sees it.

    ``status`` is ``valid``, ``missing_config_file``, ``missing_license`` or ``invalid_license``
    (the official names, ``yes`` written ``valid``); ``key`` is the stored value, if any.
    """

    status: str
    key: Any
    config_file: Path

    @property
    def usable(self) -> bool:
        return self.status == "valid"

    def describe(self) -> str:
        """One line: what is stored where.

        Examples:
            >>> KeyState("missing_license", None, Path("/h/config.json")).describe()
            'no licence key stored in /h/config.json'
        """
        if self.status == "missing_config_file":
            return f"no licence key stored ({self.config_file} does not exist)"
        if self.status == "missing_license":
            return f"no licence key stored in {self.config_file}"
        if self.status == "invalid_license":
            return (f"the licence key {self.key!r} in {self.config_file} is invalid "
                    f"(a key has {KEY_LENGTH} characters)")
        return f"licence key {self.key} stored in {self.config_file}"


def key_state(home_dir: Path) -> KeyState:
    """Check the stored key offline, as the official tool does before a licensed task runs.

    Examples:
        >>> key_state(Path("/nonexistent")).status
        'missing_config_file'
    """
    config_file = Path(home_dir) / "config.json"
    config = read_config(config_file)
    if config is None:
        return KeyState("missing_config_file", None, config_file)
    if "license_number" not in config:
        return KeyState("missing_license", None, config_file)
    key = config["license_number"]
    status = "valid" if isinstance(key, str) and len(key) == KEY_LENGTH else "invalid_license"
    return KeyState(status, key, config_file)


def require_license(home_dir: Path, task_name: str) -> str:
    """The stored key, or a one-line :class:`InputError` saying how to store one.

    Examples:
        >>> require_license(Path("/nonexistent"), "face")  # doctest: +ELLIPSIS
        Traceback (most recent call last):
        ...
        totalseg.errors.InputError: task face needs a licence key: no licence key stored (...); run ...
    """
    state = key_state(home_dir)
    if not state.usable:
        raise InputError(f"task {task_name} needs a licence key: {state.describe()}; "
                         f"run `totalseg license set KEY` ({GET_A_KEY})")
    return state.key


def check_key_format(key: str) -> str:
    """Refuse a key that is not ``aca_`` and 18 characters, as ``totalseg_set_license`` does.

    Examples:
        >>> check_key_format("aca_12345678901234")
        'aca_12345678901234'
        >>> check_key_format("12345")  # doctest: +ELLIPSIS
        Traceback (most recent call last):
        ...
        totalseg.errors.InputError: licence key '12345': must start with 'aca_'; ...
    """
    if not key.startswith(KEY_PREFIX):
        raise InputError(f"licence key {key!r}: must start with {KEY_PREFIX!r}; "
                         f"copy the key you received ({GET_A_KEY})")
    if len(key) != KEY_LENGTH:
        raise InputError(f"licence key {key!r}: must have exactly {KEY_LENGTH} characters, got {len(key)}; "
                         "copy the whole key you received")
    return key


def read_config(config_file: Path) -> dict | None:
    """The official config file's content, or ``None`` when it does not exist.

    Examples:
        >>> read_config(Path("/nonexistent/config.json")) is None
        True
    """
    try:
        config = json.loads(Path(config_file).read_text(encoding="utf-8"))
    except FileNotFoundError:
        return None
    except (OSError, ValueError) as exc:
        raise InputError(f"{config_file}: cannot read the config file ({exc}); fix or remove it") from None
    if not isinstance(config, dict):
        raise InputError(f"{config_file}: expected a JSON object, got {type(config).__name__}; fix or remove it")
    return config


def ensure_config(home_dir: Path) -> dict:
    """The config file's content, creating it first as the official setup does (an id, usage
    statistics on, a prediction counter of 0) so that the official tool can use it too.

    Examples:
        >>> sorted(ensure_config(Path("~/.totalsegmentator").expanduser()))  # doctest: +SKIP
        ['prediction_counter', 'send_usage_stats', 'totalseg_id']
    """
    config_file = Path(home_dir) / "config.json"
    config = read_config(config_file)
    if config is None:
        suffix = "".join(random.choices(string.ascii_uppercase + string.digits, k=8))
        config = {"totalseg_id": f"totalseg_{suffix}", "send_usage_stats": True, "prediction_counter": 0}
        _write_config(config_file, config)
    return config


def set_key(access: LicenseAccess, key: str, *, validate: bool = True) -> bool:
    """Store ``key`` in the config file, keeping its other entries, as the official ``-l`` does.

    A key equal to the stored one is left as it is, unchecked. Otherwise it is checked at the
    licence server first, unless ``validate`` is False.

    Returns:
        Whether the file changed.

    Raises:
        InputError: the server refused the key.
        DownloadError: the server could not be asked.

    Examples:
        >>> set_key(LicenseAccess.from_env(), "aca_12345678901234")  # doctest: +SKIP
        True
    """
    config = ensure_config(access.home_dir)
    if config.get("license_number") == key:
        return False
    if validate and not is_valid_key(access, key):
        raise InputError(f"the licence server refused the key {key!r}; check it, or get one ({GET_A_KEY})")
    _write_config(access.config_file, {**config, "license_number": key})
    return True


def is_valid_key(access: LicenseAccess, key: str, *, timeout_s: float = 5) -> bool:
    """Ask the licence server whether ``key`` is valid (its ``is_valid_license_number`` endpoint).

    Raises:
        DownloadError: no answer, or an HTTP error that does not say the key is invalid.

    Examples:
        >>> is_valid_key(LicenseAccess.from_env(), "aca_12345678901234")  # doctest: +SKIP
        False
    """
    url = f"{access.server}/is_valid_license_number"
    try:
        with _post_json(url, {"license_number": key}, timeout_s=timeout_s) as response:
            reply = _json_reply(response.read(1 << 16))
    except DownloadError as exc:
        raise DownloadError(f"{exc}; or {_SKIP_VALIDATION}") from None
    except _HttpRefusal as exc:
        if exc.reply.get("status") == "invalid_license":
            return False
        raise DownloadError(f"{url}: {exc}; try again later, or {_SKIP_VALIDATION}") from None
    return reply.get("status") == "valid_license"


def license_task(spec: ModelSpec) -> str:
    """The name the licence server knows a model by.

    Examples:
        >>> from totalseg.models.tasks import all_models
        >>> license_task(all_models()[304])
        'appendicular_bones'
    """
    return catalog()["models"].get(str(spec.model_id), {}).get("license_task", str(spec.model_id))


def download_licensed_zip(
    access: LicenseAccess, spec: ModelSpec | str, dest: Path, *, progress: bool = True, timeout_s: float = 300,
    retries: int = 2, backoff_s: float = 2.0,
) -> Path:
    """Download the weights zip of a licence-server model to ``dest``, as the official tool asks for it.

    ``spec`` is a model of the task table or a licence-server task name itself (``body_stats_ct``).
    The stored key is sent with the model's licence-server name and the official version
    (``POST {server}/download_weights``). The bytes stream to ``<dest>.part``, which is renamed to
    ``dest`` only when complete (its length as announced); server errors (5xx, 429) and dropped
    connections are retried ``retries`` times with exponential backoff. The caller checks and
    extracts the zip (:meth:`~totalseg.models.store.WeightsStore.import_zip`).

    Raises:
        InputError: no usable key is stored, or the server refused it.
        DownloadError: the server cannot be reached, refused the request, or kept failing.

    Examples:
        >>> spec = all_models()[304]  # doctest: +SKIP
        >>> download_licensed_zip(LicenseAccess.from_env(), spec, Path(spec.zip_name))  # doctest: +SKIP
        PosixPath('Dataset304_appendicular_bones_ext_1559subj.zip')
    """
    task = spec if isinstance(spec, str) else license_task(spec)
    key = require_license(access.home_dir, task)
    payload = {"license_number": key, "task": task, "version": OFFICIAL_VERSION}
    url = f"{access.server}/download_weights"
    part = Path(dest).with_name(Path(dest).name + ".part")
    failures = 0
    while True:
        try:
            _fetch(url, payload, part, progress=progress, timeout_s=timeout_s)
            break
        except _Transient as exc:
            part.unlink(missing_ok=True)
            failures += 1
            if failures > retries:
                raise DownloadError(f"downloading {payload['task']} from {url} failed {failures} times "
                                    f"(last: {exc}); try again later") from None
            time.sleep(backoff_s * 2 ** (failures - 1))
        except BaseException:
            part.unlink(missing_ok=True)
            raise
    os.replace(part, dest)
    return Path(dest)


class _HttpRefusal(Exception):
    """The server answered with an HTTP error; ``reply`` is its JSON body, if it sent one."""

    def __init__(self, code: int, reason: str, reply: dict):
        detail = reply.get("message") or reply.get("status")
        super().__init__(f"HTTP {code} {reason}" + (f" ({detail})" if detail else ""))
        self.code, self.reply = code, reply


class _Transient(Exception):
    """An attempt failed in a way a later attempt may fix."""


def _fetch(url: str, payload: dict, part: Path, *, progress: bool, timeout_s: float) -> None:
    """One download attempt into ``part``."""
    try:
        response = _post_json(url, payload, timeout_s=timeout_s)
    except _HttpRefusal as exc:
        _refuse(payload, exc.reply, exc)
        if exc.code == 429 or exc.code >= 500:
            raise _Transient(str(exc)) from None
        raise DownloadError(f"{url}: {exc}; check the licence server address ({SERVER_ENV})") from None
    with response:
        if "json" in response.headers.get("Content-Type", ""):
            reply = _json_reply(response.read(1 << 16))
            _refuse(payload, reply, f"status {reply.get('status')!r}")
            raise DownloadError(f"{url} answered {reply or 'an empty reply'} instead of a zip; try again later")
        _stream(response, part, progress=progress, desc=payload["task"])


def _refuse(payload: dict, reply: dict, what: object) -> None:
    """Raise the fix for a refused key, if that is what the server said."""
    if reply.get("status") == "invalid_license":
        raise InputError(f"the licence server refused the key {payload['license_number']!r} ({what}); "
                         f"store a valid one with `totalseg license set KEY` ({GET_A_KEY})")


def _stream(response: http.client.HTTPResponse, part: Path, *, progress: bool, desc: str) -> None:
    length = response.headers.get("Content-Length")
    total = int(length) if length and length.isdigit() else None
    part.parent.mkdir(parents=True, exist_ok=True)
    check_free_space(part.parent, total or 0)
    written = 0
    with tqdm(total=total, unit="B", unit_scale=True, unit_divisor=1024, desc=desc, disable=not progress) as bar:
        try:
            with open(part, "wb") as fh:
                while chunk := response.read1(CHUNK_BYTES):
                    fh.write(chunk)
                    written += len(chunk)
                    bar.update(len(chunk))
        except (http.client.HTTPException, ConnectionError, TimeoutError) as exc:
            raise _Transient(f"{type(exc).__name__}: {exc}") from None
        except OSError as exc:
            raise DownloadError(f"cannot write {part} ({exc.strerror}); free space or choose another folder") from None
    if total is not None and written < total:
        raise _Transient(f"connection closed after {written} of {total} bytes")


def _post_json(url: str, payload: dict, *, timeout_s: float) -> http.client.HTTPResponse:
    """POST ``payload`` as JSON; an HTTP error answer raises :class:`_HttpRefusal`, no answer DownloadError."""
    request = urllib.request.Request(
        url, data=json.dumps(payload).encode(), method="POST",
        headers={"Content-Type": "application/json", "User-Agent": f"totalseg/{__version__}"},
    )
    try:
        return urllib.request.urlopen(request, timeout=timeout_s)
    except urllib.error.HTTPError as exc:
        with exc:
            reply = _json_reply(exc.read(1 << 16))
        raise _HttpRefusal(exc.code, exc.reason, reply) from None
    except (urllib.error.URLError, http.client.HTTPException, OSError) as exc:
        reason = getattr(exc, "reason", None) or exc
        raise DownloadError(f"cannot reach the licence server {url} ({reason}); check the network connection "
                            f"(or {SERVER_ENV}) and run again") from None


def _json_reply(body: bytes) -> dict:
    """A JSON object reply, or ``{}`` for anything else."""
    try:
        reply = json.loads(body)
    except ValueError:
        return {}
    return reply if isinstance(reply, dict) else {}


def _write_config(config_file: Path, config: dict) -> None:
    atomic_write_text(config_file, json.dumps(config, indent=4))
