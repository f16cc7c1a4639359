import re
from pathlib import Path

import yaml
from django.conf import settings

COMPOSE_FILE = Path(settings.BASE_DIR) / "docker-compose.yml"


def test_compose_refuses_to_start_without_a_secret_key():
    # settings.py refuses to run production without SECRET_KEY; a compose default would
    # hand every deployment the same publicly known key instead.
    services = yaml.safe_load(COMPOSE_FILE.read_text())["services"]

    with_key = {
        name: service["environment"]["SECRET_KEY"]
        for name, service in services.items()
        if "SECRET_KEY" in (service.get("environment") or {})
    }

    assert {"web", "worker", "beat", "migrate"} <= set(with_key)
    for name, value in with_key.items():
        assert re.fullmatch(r"\$\{SECRET_KEY:\?[^}]+\}", value), (name, value)
