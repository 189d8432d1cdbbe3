"""Ray as an executor of the pipeline (`--backend ray`): each shard is a Ray
task, on a private local Ray or on a cluster joined by `--address`.

Ray is an optional extra, imported only here (`executors.executor` imports this
module when asked for Ray), and whatever goes wrong with it ends as a one-line
`CorpusError`, so that `pipeline.Run.execute` need not know Ray:

- Ray not installed, or not started or reached;
- token authentication (Ray >= 2.52). From 2.59 a local Ray that
  `ray.init()` starts makes a token (~/.ray/auth_token) and uses it, and
  `ray start --head` turns authentication on whenever a token exists there
  (or is named by RAY_AUTH_TOKEN / RAY_AUTH_TOKEN_PATH), exporting
  RAY_AUTH_MODE=token to the cluster's processes. But `ray.init(address=
  HOST:PORT)` sends a token only if RAY_AUTH_MODE=token is set in the
  driver: without it, joining fails after 20 s of retries with an error that
  does not say why. So when the variable is unset, the cluster runs on this
  machine and a token is here (then the one `ray start` used), this module
  sets RAY_AUTH_MODE=token before `ray.init`; a cluster without
  authentication ignores the token. To a cluster elsewhere no token is sent
  unasked, as Ray itself does for an explicit address: if joining it fails,
  the error says what to set;
- the cluster lost mid-run (`ray stop`, its processes killed). When the head
  goes, Ray raises nothing in the driver: a shard's result never comes, and
  60 s later Ray's C++ core ends the process (exit 1, no Python handler
  runs). So while it waits for shards this module looks at the head every
  second (does its GCS port take a connection?) and gives up after 10 s of
  silence; a system `RayError` from a shard's result (LocalRayletDiedError
  when this machine's raylet dies alone, NodeDiedError, ...) ends the run
  too. Every shard committed before stays on disk, and the error says to
  finish with `--resume`.

A shard's own exception (a bug in `make_shard`: `RayTaskError`) is left as it
is, with its remote traceback.
"""
from __future__ import annotations

import ipaddress
import os
import socket
import time
from pathlib import Path

from .files import CorpusError
from .install import install_hint
from .shards import make_shard

WATCH = 1.0         # seconds between looks at the cluster while a shard is awaited
HEAD_GRACE = 10.0   # seconds the head may not answer before the cluster counts as lost
PROBE_TIMEOUT = 2.0
RESUME = "run the same command with --resume to finish"

# Ray's system errors that mean the cluster (or this machine's part of it) is gone
LOST = ("LocalRayletDiedError", "NodeDiedError", "RaySystemError", "ObjectLostError", "OwnerDiedError",
        "ObjectFetchTimedOutError", "ReferenceCountingAssertionError")


def _first_line(e: BaseException) -> str:
    text = str(e).strip()
    return f"{type(e).__name__}: {text.splitlines()[0].rstrip('.')}" if text else type(e).__name__


# ---------------------------------------------------------------- token authentication

def _token_auth(ray):
    """Ray's token-authentication API, or None where this Ray has none (< 2.52)."""
    raylet = getattr(ray, "_raylet", None)
    need = ("AuthenticationTokenLoader", "AuthenticationMode", "get_authentication_mode", "Config")
    return raylet if raylet is not None and all(hasattr(raylet, n) for n in need) else None


def _token_mode(raylet) -> bool:
    try:
        return raylet.get_authentication_mode() == raylet.AuthenticationMode.TOKEN
    except Exception:
        return os.environ.get("RAY_AUTH_MODE", "").lower() == "token"


def _have_token(raylet) -> bool:
    """A token where Ray looks for one (RAY_AUTH_TOKEN, RAY_AUTH_TOKEN_PATH, ~/.ray/auth_token)."""
    try:
        return bool(raylet.AuthenticationTokenLoader.instance().has_token(ignore_auth_mode=True))
    except Exception:
        pass
    if os.environ.get("RAY_AUTH_TOKEN", "").strip():
        return True
    path = Path(os.environ.get("RAY_AUTH_TOKEN_PATH") or Path.home() / ".ray" / "auth_token")
    try:
        return bool(path.read_text().strip())
    except (OSError, UnicodeDecodeError):
        return False


def _on_this_machine(address: str) -> bool:
    """Whether HOST:PORT names this machine (a loopback address or one of its own)."""
    host = address.rpartition(":")[0].strip("[]")
    if not host or "/" in host:
        return False
    try:
        infos = socket.getaddrinfo(host, None, proto=socket.IPPROTO_TCP)
    except (OSError, UnicodeError):
        return False
    for family, _, _, _, sockaddr in infos:
        try:
            if ipaddress.ip_address(sockaddr[0].split("%")[0]).is_loopback:
                return True
            with socket.socket(family, socket.SOCK_STREAM) as s:
                s.bind((sockaddr[0], 0, *sockaddr[2:]))     # only an address of this machine binds
                return True
        except (OSError, ValueError):
            continue
    return False


def _prepare_token(ray, address: str | None) -> None:
    """Before joining the cluster at `address`: token mode, if it runs here and a token is here."""
    raylet = _token_auth(ray)
    if (raylet is None or address in (None, "local", "auto") or "RAY_AUTH_MODE" in os.environ
            or not _on_this_machine(address) or not _have_token(raylet)):
        return
    os.environ["RAY_AUTH_MODE"] = "token"      # what `ray start` exports to the cluster's processes
    try:
        raylet.Config.initialize("")           # Ray read its config on import: read it again
    except Exception:
        pass


def _auth_hint(ray) -> str:
    raylet = _token_auth(ray)
    if raylet is None:
        return ""
    if _token_mode(raylet):
        return ("; token authentication is on: if ~/.ray/auth_token does not hold the cluster's token, "
                "set RAY_AUTH_TOKEN (or RAY_AUTH_TOKEN_PATH) to it")
    return ("; if the cluster uses token authentication, set RAY_AUTH_MODE=token and give its token in "
            "~/.ray/auth_token (or RAY_AUTH_TOKEN_PATH, or RAY_AUTH_TOKEN)")


# ---------------------------------------------------------------- watching the cluster

def _answers(head: tuple[str, int]) -> bool:
    try:
        socket.create_connection(head, timeout=PROBE_TIMEOUT).close()
        return True
    except OSError:
        return False


class _Watch:
    """Looks at the cluster's head from the driver: does its GCS port take a
    connection? (Not this machine's raylet: each look would put a line into
    its log; when it dies alone, Ray raises LocalRayletDiedError within
    seconds.) A head that does not answer from the start (a Ray that lays
    itself out otherwise) is not looked at rather than taken for lost."""

    def __init__(self, ray):
        self.head = None
        try:
            host, _, port = ray.get_runtime_context().gcs_address.rpartition(":")
            head = (host.strip("[]"), int(port))
            if _answers(head):
                self.head = head
        except Exception:
            pass
        try:        # Ray ends the process when the head is away this long (default 60 s)
            self.grace = min(HEAD_GRACE, float(os.environ["RAY_gcs_rpc_server_reconnect_timeout_s"]) / 3)
        except (KeyError, ValueError):
            self.grace = HEAD_GRACE
        self.silent_since, self.looked = None, time.monotonic()

    def lost(self) -> str | None:
        """Why the cluster is lost, or None while it is there (or was, less than WATCH s ago)."""
        now = time.monotonic()
        if self.head is None or now - self.looked < WATCH:
            return None
        self.looked = now
        if _answers(self.head):
            self.silent_since = None
            return None
        self.silent_since = self.silent_since or now
        if now - self.silent_since < self.grace:
            return None
        return f"its head {self.head[0]}:{self.head[1]} stopped answering"


# ---------------------------------------------------------------- the executor

class RayExecutor:
    def __init__(self, address: str | None):
        """Join the cluster at `address` (HOST:PORT, or auto: the one recorded on
        this machine); without one, start a private local Ray. Ray's own default
        would join a cluster recorded on the machine or named by RAY_ADDRESS."""
        try:
            import ray
        except ImportError:
            raise CorpusError(f"--backend ray: Ray is not installed ({install_hint('ray')})") from None
        self.ray, self.started = ray, not ray.is_initialized()
        self.place = f"--address {address}" if address else "--backend ray"
        if self.started:
            _prepare_token(ray, address)
            try:
                ray.init(address=address or "local", include_dashboard=False, log_to_driver=False,
                         logging_level="ERROR")
            except Exception as e:
                hint = _auth_hint(ray) if address not in (None, "local") else ""
                raise CorpusError(f"--address {address or 'local'}: cannot start or reach Ray: "
                                  f"{_first_line(e)}{hint}") from None
        self.task = ray.remote(make_shard)
        self.parallelism = max(1, int(ray.cluster_resources().get("CPU", 1)))
        self.watch = _Watch(ray)
        self.lost_types = tuple(t for n in LOST if isinstance(t := getattr(ray.exceptions, n, None), type))

    def lost(self, why: str) -> CorpusError:
        return CorpusError(f"{self.place}: the Ray cluster was lost ({why}); {RESUME}")

    def submit(self, recipe, number, start, stop):
        try:
            return _Shard(self, number, self.task.remote(recipe, number, start, stop))
        except Exception as e:
            raise self.lost(f"{_first_line(e)}, submitting shard {number}") from None

    def shutdown(self, now: bool = False):
        # a private Ray ends with the run and a joined cluster lives on without
        # this driver; a Ray the caller had initialised stays as it was
        if self.started:
            try:
                self.ray.shutdown()
            except Exception:   # after a loss there is little left to leave
                pass


class _Shard:
    """A shard being made as a Ray task: `result()` waits for it, looking at
    the cluster meanwhile, and turns Ray's failures into `CorpusError`."""

    def __init__(self, pool: RayExecutor, number: int, ref):
        self.pool, self.number, self.ref = pool, number, ref

    def result(self):
        ray, exceptions = self.pool.ray, self.pool.ray.exceptions
        try:
            # look on every call, not only while waiting: shards may keep coming
            # for a while from this machine's raylet after the head is gone
            while True:
                why = self.pool.watch.lost()
                if why:
                    raise self.pool.lost(f"{why}, making shard {self.number}")
                if ray.wait([self.ref], timeout=WATCH)[0]:
                    return ray.get(self.ref)
        except exceptions.RayTaskError:
            raise                       # make_shard's own exception, with its remote traceback
        except (exceptions.RayError, ConnectionError) as e:
            what = "the Ray cluster was lost" if isinstance(e, self.pool.lost_types + (ConnectionError,)) \
                else "Ray failed"
            raise CorpusError(f"{self.pool.place}: {what} ({_first_line(e)}, making shard {self.number}); "
                              f"{RESUME}") from None
