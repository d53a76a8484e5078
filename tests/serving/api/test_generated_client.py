"""A client generated with openapi-python-client from the running service works as declared."""

from __future__ import annotations

import importlib
import subprocess
import sys
from pathlib import Path

import httpx

from tests.serving.api.conftest import RealServer

PACKAGE = "reactivate_client"


def generate_client(server: RealServer, folder: Path) -> Path:
    """Generate the client package from the served /docs.json; return the folder holding it."""
    document = folder / "openapi.json"
    document.write_bytes(httpx.get(f"{server.url}/docs.json", timeout=10).content)
    config = folder / "config.yaml"
    config.write_text(f"package_name_override: {PACKAGE}\npost_hooks: []\n")
    generator = Path(sys.executable).with_name("openapi-python-client")
    result = subprocess.run(
        [str(generator), "generate", "--path", str(document), "--meta", "none",
         "--config", str(config), "--output-path", str(folder / "site" / PACKAGE)],
        capture_output=True, text=True, timeout=120,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "Warning" not in result.stdout, result.stdout  # every part of the document is taken
    return folder / "site"


def test_a_generated_client_ranks_scores_and_parses_401_and_403_as_the_error_model(
    real_server: RealServer, tmp_path: Path
) -> None:
    site = generate_client(real_server, tmp_path)
    sys.path.insert(0, str(site))
    try:
        client_module = importlib.import_module(PACKAGE)
        rank = importlib.import_module(f"{PACKAGE}.api.lists.rank")
        score = importlib.import_module(f"{PACKAGE}.api.lists.score")
        models = importlib.import_module(f"{PACKAGE}.models")
        world = real_server.world
        client = client_module.AuthenticatedClient(base_url=real_server.url, token=world.south_token)

        page = rank.sync(client=client, body=models.RankRequest(clinic_id="south", limit=3))
        assert isinstance(page, models.RankResponse) and len(page.patients) == 3
        assert isinstance(page.next_cursor, str)  # south has more than 3 eligible patients
        following = rank.sync(
            client=client,
            body=models.RankRequest(clinic_id="south", limit=3, cursor=page.next_cursor),
        )
        assert [p.rank for p in following.patients] == [4, 5, 6]

        first = page.patients[0].patient_id
        scored = score.sync(
            client=client, body=models.ScoreRequest(clinic_id="south", patient_ids=[first])
        )
        assert isinstance(scored, models.ScoreResponse) and scored.patients[0].rank >= 1

        stranger = client_module.AuthenticatedClient(base_url=real_server.url, token="not-a-token")
        refused = rank.sync_detailed(client=stranger, body=models.RankRequest(clinic_id="south"))
        assert refused.status_code == 401 and isinstance(refused.parsed, models.ErrorBody)
        assert refused.parsed.field == "Authorization"

        other = score.sync_detailed(
            client=client, body=models.ScoreRequest(clinic_id="north", patient_ids=["x"])
        )
        assert other.status_code == 403 and isinstance(other.parsed, models.ErrorBody)
        assert other.parsed.field == "clinic_id"
    finally:
        sys.path.remove(str(site))
        for name in [m for m in sys.modules if m == PACKAGE or m.startswith(f"{PACKAGE}.")]:
            del sys.modules[name]
