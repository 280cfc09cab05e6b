"""Command-line pieces shared by live.py, bench.py and golden.py: the model options, loading
the engines from them, the checks of the source and budget options, the ``--json-out`` summary
file, and turning known errors into one stderr line with exit status 2 (never a traceback
without ``--debug``)."""

from __future__ import annotations

import argparse
import json
import math
import os
import sys
import time
from typing import Any, Sequence

EXIT_BAD_INPUT = 2
EXIT_SOURCE_LOST = 3   # a source failed for good mid-run; the summary was still written


class UsageError(ValueError):
    """A bad command-line combination (exit 2)."""


class Terminated(KeyboardInterrupt):
    """SIGTERM (``systemctl stop``, ``docker stop``, ``kill``): handled like Ctrl-C, so the run
    still ends with its summary and a playable ``--record`` file."""


def _on_sigterm(signum: int, frame: Any) -> None:
    raise Terminated()


def stop_reason(e: KeyboardInterrupt) -> str:
    return "terminated (SIGTERM)" if isinstance(e, Terminated) else "interrupted"


def quiet_env() -> None:
    os.environ.setdefault("OPENCV_LOG_LEVEL", "ERROR")
    os.environ.setdefault("OPENCV_VIDEOIO_DEBUG", "0")
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")


def add_model_args(ap: argparse.ArgumentParser) -> None:
    """Options shared by live.py, bench.py and golden.py."""
    from edge_runtime.backends import ALL_BACKEND_NAMES
    ap.add_argument("--model", required=True, help="model folder holding manifest.json (artifacts/<name>)")
    ap.add_argument("--backend", default="litert",
                    help=f"inference engine: {', '.join(n for n in ALL_BACKEND_NAMES if n != 'fake')} "
                         f"(fake = numpy stand-in for testing, no artifacts); default litert")
    ap.add_argument("--precision", default="auto",
                    help="auto | fp32 | fp16 | int8 (what the model folder has); auto (default): the fastest "
                         "that passed validation at export, for this backend and engine (one line at start "
                         "says which and why)")
    ap.add_argument("--allow-failed", action="store_true",
                    help="run artifacts that failed validation at export (refused otherwise; a warning "
                         "says what they missed); with --precision auto they rank after those that passed")
    ap.add_argument("--threads", type=int, default=None,
                    help="CPU threads per network (default: every core; on tflite_runtime one for the "
                         "policy, and one per network on 2 cores or fewer)")
    ap.add_argument("--policy-threads", type=int, default=None,
                    help="CPU threads for the policy network alone (default: --threads)")
    ap.add_argument("--delegate", default=None,
                    help="litert: xnnpack (default) | none | path to an external delegate .so (e.g. GPU)")
    ap.add_argument("--delegate-opt", action="append", default=[], metavar="KEY=VALUE",
                    help="option for the external delegate (repeatable)")
    ap.add_argument("--providers", default=None,
                    help="onnxruntime execution providers, comma-separated: cpu, cuda, tensorrt")
    ap.add_argument("--device", default=None, help="torch: cuda | cuda:N | cpu (default: cuda if available)")
    ap.add_argument("--no-verify", action="store_true", help="skip the artifacts' sha256 check")


def size_arg(text: str) -> tuple[int, int]:
    from edge_runtime.sources import parse_size
    try:
        return parse_size(text, None)
    except ValueError as e:
        raise argparse.ArgumentTypeError(str(e)) from None


def parse_kv(items: Sequence[str], what: str) -> dict:
    out = {}
    for it in items:
        if "=" not in it:
            raise UsageError(f"{what}: expected KEY=VALUE, got {it!r}")
        k, v = it.split("=", 1)
        out[k.strip()] = v.strip()
    return out


def make_engines(args: argparse.Namespace, mode: str = "adaptive", seed: int = 0):
    """Load the manifest, check backend/precision, load the networks once (sha256 checked).
    ``--precision auto`` is resolved here (one line on stderr says which and why) and
    ``args.precision`` set to the precision chosen, for what the caller writes."""
    from edge_runtime.backends import ALL_BACKEND_NAMES, BACKEND_NAMES, installed_backends
    from edge_runtime.engine import Engines
    from edge_runtime.manifest import PRECISIONS, ManifestError, load_manifest
    from edge_runtime.precision import AUTO

    m = load_manifest(args.model, verify=False)
    if args.backend not in ALL_BACKEND_NAMES:
        raise UsageError(f"unknown backend {args.backend!r}; valid choices: {', '.join(BACKEND_NAMES)} "
                         f"(installed here: {', '.join(installed_backends()) or 'none'}; this model has "
                         f"artifacts for: {', '.join(m.backends()) or 'none'})")
    if args.precision not in PRECISIONS + (AUTO,):
        raise UsageError(f"unknown precision {args.precision!r}; valid choices: {', '.join(PRECISIONS + (AUTO,))}"
                         + (f" (this model has {', '.join(m.precisions(args.backend))} for {args.backend})"
                            if args.backend in m.backends() else ""))
    if args.backend != "fake":
        if args.backend not in m.backends():
            raise ManifestError(f"{m.root}: this model has no artifacts for backend {args.backend!r}; "
                                f"it has: {', '.join(m.backends()) or 'none'}")
        if args.precision != AUTO and args.precision not in m.precisions(args.backend):
            raise ManifestError(f"{m.root}: no {args.precision} artifacts for backend {args.backend!r}; "
                                f"available precisions: {', '.join(m.precisions(args.backend))}")
    for flag in ("threads", "policy_threads"):
        v = getattr(args, flag, None)
        if v is not None and v < 1:
            raise UsageError(f"--{flag.replace('_', '-')} must be >= 1, got {v}")
    providers = [p.strip() for p in args.providers.split(",") if p.strip()] if args.providers else None
    engines = Engines(m, backend=args.backend, precision=args.precision, mode=mode, threads=args.threads,
                      policy_threads=getattr(args, "policy_threads", None), delegate=args.delegate,
                      delegate_options=parse_kv(args.delegate_opt, "--delegate-opt"), providers=providers,
                      device=args.device, verify=not args.no_verify, seed=seed,
                      allow_failed=getattr(args, "allow_failed", False))
    if engines.precision_choice is not None and args.backend != "fake":
        print(f"[arnet-edge] {engines.precision_choice.line()}", file=sys.stderr)
    args.precision = engines.precision
    for w in engines.engine_warnings():
        print(f"[arnet-edge] warning: {w}", file=sys.stderr)
    return engines


def make_pipeline(args: argparse.Namespace, seed: int = 0, **kw: Any):
    """A one-stream :class:`~edge_runtime.pipeline.AdaptivePipeline` on :func:`make_engines`."""
    from edge_runtime.pipeline import AdaptivePipeline
    return AdaptivePipeline(engines=make_engines(args, seed=seed), **kw)


def known_errors() -> tuple:
    from edge_runtime.backends import BackendError
    from edge_runtime.manifest import ManifestError
    from edge_runtime.sources import SourceError
    errs: list = [ManifestError, BackendError, SourceError, UsageError, FileNotFoundError,
                  PermissionError, IsADirectoryError]
    try:
        from edge_runtime.profile import ProfileError
        errs.append(ProfileError)
    except ImportError:  # pragma: no cover
        pass
    return tuple(errs)


def run_cli(prog: str, body, argv: Sequence[str] | None, parser: argparse.ArgumentParser) -> int:
    """Parse, run ``body(args)``, turn known errors into one stderr line and exit status 2."""
    quiet_env()
    args = parser.parse_args(argv)
    import signal
    import threading
    installed, old = False, None
    if threading.current_thread() is threading.main_thread():
        old, installed = signal.signal(signal.SIGTERM, _on_sigterm), True
    try:
        return int(body(args) or 0)
    except KeyboardInterrupt as e:   # before the run's loop (loading): nothing to summarise
        print(f"{prog}: {stop_reason(e)}", file=sys.stderr)
        return 130 if not isinstance(e, Terminated) else 143
    except known_errors() as e:
        if getattr(args, "debug", False):
            raise
        print(f"{prog}: error: {e}", file=sys.stderr)
        return EXIT_BAD_INPUT
    except (ValueError, OSError) as e:
        if getattr(args, "debug", False):
            raise
        print(f"{prog}: error: {e}", file=sys.stderr)
        return EXIT_BAD_INPUT
    except Exception as e:  # an engine failing mid-run: still no traceback without --debug
        if getattr(args, "debug", False):
            raise
        print(f"{prog}: unexpected error: {type(e).__name__}: {e} (run with --debug for the traceback)",
              file=sys.stderr)
        return 1
    finally:
        if installed:
            signal.signal(signal.SIGTERM, old if old is not None else signal.SIG_DFL)


class SummaryFile:
    """``--json-out``: the run's summary, written atomically at the end and, with
    ``--summary-every S``, every S seconds while running (marked ``"running": true``)."""

    def __init__(self, path: str | None, every_s: float | None = None,
                 clock: Any = time.monotonic) -> None:
        self.path, self.every_s, self.clock = path, every_s, clock
        self.next_t = clock() + every_s if path and every_s else math.inf

    @classmethod
    def from_args(cls, args: argparse.Namespace) -> "SummaryFile":
        every = args.summary_every
        if every is not None:
            if not (math.isfinite(every) and every > 0):
                raise UsageError(f"--summary-every must be a positive number of seconds, got {every}")
            if not args.json_out:
                raise UsageError("--summary-every rewrites the --json-out file; give --json-out FILE too")
        return cls(args.json_out, every)

    def due(self) -> bool:
        return self.clock() >= self.next_t

    def write(self, summary: dict, running: bool) -> None:
        if not self.path:
            return
        from edge_runtime.manifest import atomic_write_text
        if self.every_s:
            summary = {**summary, "running": running}
            self.next_t = self.clock() + self.every_s
        atomic_write_text(self.path, json.dumps(summary, indent=2) + "\n")


def source_options(args: argparse.Namespace) -> dict:
    """``open_source`` keywords from the flags, checked before any model loads."""
    if args.decode_threads is not None and args.decode_threads < 0:
        raise UsageError(f"--decode-threads must be >= 0 (0 = FFmpeg's default), got {args.decode_threads}")
    if not (math.isfinite(args.stream_timeout) and args.stream_timeout > 0):
        raise UsageError(f"--stream-timeout must be a positive number of seconds, got {args.stream_timeout}")
    if not (math.isfinite(args.input_rate) and args.input_rate > 0):
        raise UsageError(f"--input-rate must be a positive number of frames per second, got {args.input_rate}")
    return dict(reconnect_tries=args.reconnect, quiet=True, decode_threads=args.decode_threads,
                capture_size=args.input_size, stream_timeout_s=args.stream_timeout,
                image_fps=args.input_rate)


def budget_power(args: argparse.Namespace) -> Any:
    """Check --target-fps / --target-mw; the device's PowerMonitor (None with --no-power)."""
    for k in ("target_fps", "target_mw"):
        v = getattr(args, k)
        if v is not None and not v > 0:
            raise UsageError(f"--{k.replace('_', '-')} must be > 0, got {v}")
    power = None
    if not args.no_power:
        from edge_runtime.telemetry import PowerMonitor
        power = PowerMonitor.autodetect()
    if args.target_mw is not None and (power is None or not power.available):
        raise UsageError("--target-mw needs a power reading, and " + (
            "--no-power turned it off" if power is None else
            "no power source was found on this device (Jetson INA3221, Raspberry Pi 5 PMIC, "
            "/sys/class/power_supply battery); use --target-fps instead"))
    return power
