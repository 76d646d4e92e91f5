"""project/serve.py: process tuning happens in the daphne process, not in whoever imports the modules.

Each check runs in a fresh interpreter: importing project.serve also sets uvloop's event loop
policy, which this one must keep out of.
"""

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def run_python(code: str) -> str:
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "project.test_settings"}
    result = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=60, env=env)
    assert result.returncode == 0, result.stderr
    return result.stdout.strip()


def test_importing_the_server_modules_leaves_the_garbage_collector_alone():
    code = (
        "import gc; before = gc.get_threshold();import project.asgi, project.serve; print(gc.get_threshold() == before)"
    )
    assert run_python(code) == "True"


def test_the_entry_point_raises_the_first_threshold_before_daphne_starts():
    code = (
        "import gc, sys; from project import serve;"
        "serve.GracefulCommandLineInterface.entrypoint = classmethod(lambda cls: print(gc.get_threshold()[0]));"
        "sys.argv = ['serve', 'project.asgi:application']; serve.main()"
    )
    assert run_python(code) == "50000"


def test_a_websocket_handshake_may_wait_30_s_for_its_consumer_unless_told_otherwise():
    """daphne's 5 s default dropped handshakes queued behind a slow database (HAProxy: 502)."""
    code = (
        "import sys; from project import serve;"
        "serve.GracefulCommandLineInterface.entrypoint = classmethod(lambda cls: print(' '.join(sys.argv[1:])));"
        "sys.argv = ['serve', ARGS 'project.asgi:application']; serve.main()"
    )
    assert "--websocket_connect_timeout 30 " in run_python(code.replace("ARGS", ""))
    told = run_python(code.replace("ARGS", "'--websocket_connect_timeout', '9',"))
    assert told.count("--websocket_connect_timeout") == 1 and "--websocket_connect_timeout 9" in told
