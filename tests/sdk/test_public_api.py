import json
import subprocess
import sys

import contrail


def test_public_surface_is_pinned():
    assert contrail.__all__ == [
        "__version__",
        "configure",
        "flush",
        "generation",
        "get_prompt",
        "instrument_anthropic",
        "instrument_openai",
        "observe",
        "score",
        "shutdown",
        "span",
        "update_current_span",
        "update_current_trace",
    ]
    for name in contrail.__all__:
        assert hasattr(contrail, name), name


def test_import_contrail_stays_light():
    code = (
        "import json, sys, contrail; "
        "print(json.dumps(sorted(m for m in sys.modules if m.split('.')[0] in "
        "{'fastapi','sqlalchemy','numpy','pydantic','httpx','openai','anthropic','opentelemetry','starlette'})))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert json.loads(out.stdout) == []
