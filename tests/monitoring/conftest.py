"""Scraping ``/metrics`` the way Prometheus does and parsing it with prometheus_client's
own text parser."""

from __future__ import annotations

import socket

import pytest
from django.test import Client
from prometheus_client.parser import text_string_to_metric_families

METRICS_TOKEN = "metrics-token-for-the-tests-0123456789"

Samples = dict[tuple[str, frozenset], float]


def parse(text: str) -> Samples:
    samples: Samples = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            samples[(sample.name, frozenset(sample.labels.items()))] = sample.value
    return samples


def value(samples: Samples, name: str, **labels: str) -> float:
    """One sample's value; a series that is absent counts as 0."""
    return samples.get((name, frozenset(labels.items())), 0.0)


@pytest.fixture
def scrape(settings):
    """``scrape()``: the parsed samples of one authorised ``GET /metrics``."""
    settings.METRICS_TOKEN = METRICS_TOKEN
    settings.METRICS_OPEN = False
    scraper = Client()

    def do() -> Samples:
        response = scraper.get("/metrics", HTTP_AUTHORIZATION=f"Bearer {METRICS_TOKEN}")
        assert response.status_code == 200, response.content
        assert response["Content-Type"].startswith("text/plain")
        return parse(response.content.decode())

    return do


@pytest.fixture
def unused_port() -> int:
    """A port nothing listens on: bound once by us, then released."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]
