"""End-to-end HTTP load with ``wrk`` (a compiled load generator; Debian package ``wrk``).

Each run writes a Lua script with its data inlined (tokens, targets or signed webhook
bodies), runs ``wrk`` with it, and reads back one JSON line its ``done`` hook prints:
requests, duration, status counts (counted per thread in ``response``), latency
percentiles from wrk's own histogram, and socket errors.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from bench.loadgen import Target

INSTALL_HINT = "wrk is not installed: apt-get install -y wrk (Debian/Ubuntu), brew install wrk"


def available() -> bool:
    return shutil.which("wrk") is not None


@dataclass
class WrkResult:
    name: str
    requests: int
    seconds: float
    statuses: dict[str, int] = field(default_factory=dict)
    p50_ms: float = 0.0
    p90_ms: float = 0.0
    p99_ms: float = 0.0
    max_ms: float = 0.0
    socket_errors: dict[str, int] = field(default_factory=dict)

    @property
    def throughput(self) -> float:
        return self.requests / self.seconds if self.seconds else 0.0

    def rate(self, status: str) -> float:
        return self.statuses.get(status, 0) / self.seconds if self.seconds else 0.0

    @property
    def unexpected(self) -> int:
        return sum(n for s, n in self.statuses.items() if s not in ("200", "201", "409"))


COMMON_LUA = r"""
local threads = {}
local counter = 0

function setup(thread)
  counter = counter + 1
  thread:set("id", counter)
  table.insert(threads, thread)
end

statuses = {}

function response(status, headers, body)
  local key = tostring(status)
  statuses[key] = (statuses[key] or 0) + 1
end

function done(summary, latency, requests)
  local merged = {}
  for _, thread in ipairs(threads) do
    local counts = thread:get("statuses")
    for k, v in pairs(counts) do merged[k] = (merged[k] or 0) + v end
  end
  local parts = {}
  for k, v in pairs(merged) do table.insert(parts, string.format('"%s": %d', k, v)) end
  local e = summary.errors
  io.write(string.format(
    'WRK_JSON {"requests": %d, "duration_us": %d, "p50_us": %d, "p90_us": %d, ' ..
    '"p99_us": %d, "max_us": %d, "statuses": {%s}, "errors": {"connect": %d, ' ..
    '"read": %d, "write": %d, "timeout": %d, "status": %d}}\n',
    summary.requests, summary.duration, latency:percentile(50), latency:percentile(90),
    latency:percentile(99), latency.max, table.concat(parts, ", "), e.connect, e.read,
    e.write, e.timeout, e.status))
end
"""

BOOKING_LUA = r"""
local tokens = {%(tokens)s}
local slots = {%(slots)s}
local variants = {%(variants)s}
local n = 0
local prefix = ""

function init(args)
  prefix = string.format("%%d-%%d-%%d", id, os.time(), math.random(1, 1000000000))
  math.randomseed(os.time() + id * 7919)
end

function request()
  n = n + 1
  local i = math.random(1, #slots)
  local body = string.format('{"slot_id": %%d, "variant_id": %%d, "quantity": 1}',
                             slots[i], variants[i])
  return wrk.format("POST", "/api/v1/bookings", {
    ["Content-Type"] = "application/json",
    ["Authorization"] = "Bearer " .. tokens[(n + id) %% #tokens + 1],
    ["Idempotency-Key"] = "wrk-" .. prefix .. "-" .. n,
  }, body)
end
"""

WEBHOOK_LUA = r"""
local bodies = {%(bodies)s}
local signatures = {%(signatures)s}
local event_ids = {%(event_ids)s}
local n = 0

function init(args)
  -- Threads take interleaved deliveries, so every one is sent once per pass.
  n = id - 1
end

function request()
  local i = n %% #bodies + 1
  n = n + %(threads)d
  return wrk.format("POST", "/webhooks/razorpay", {
    ["Content-Type"] = "application/json",
    ["X-Razorpay-Signature"] = signatures[i],
    ["X-Razorpay-Event-Id"] = event_ids[i],
  }, bodies[i])
end
"""


def _lua_strings(values) -> str:
    return ", ".join(_lua_string(v) for v in values)


def _lua_string(value: str) -> str:
    # Long brackets cannot be closed by JSON ("]=]" never occurs in our bodies).
    return "[=[" + value + "]=]"


def run(
    name: str,
    *,
    base_url: str,
    script: str,
    connections: int,
    seconds: float,
    threads: int = 2,
    timeout_s: int = 10,
) -> WrkResult:
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as handle:
        handle.write(script + COMMON_LUA)
        path = Path(handle.name)
    try:
        completed = subprocess.run(
            [
                "wrk",
                f"-t{threads}",
                f"-c{connections}",
                f"-d{max(1, round(seconds))}s",
                f"--timeout={timeout_s}s",
                "-s",
                str(path),
                base_url,
            ],
            capture_output=True,
            text=True,
            timeout=seconds + 120,
            check=False,
        )
    finally:
        path.unlink(missing_ok=True)
    line = next((ln for ln in completed.stdout.splitlines() if ln.startswith("WRK_JSON ")), None)
    if line is None:
        raise RuntimeError(f"wrk failed: {completed.stdout[-500:]} {completed.stderr[-500:]}")
    data = json.loads(line.removeprefix("WRK_JSON "))
    return WrkResult(
        name=name,
        requests=data["requests"],
        seconds=data["duration_us"] / 1e6,
        statuses=data["statuses"],
        p50_ms=data["p50_us"] / 1000,
        p90_ms=data["p90_us"] / 1000,
        p99_ms=data["p99_us"] / 1000,
        max_ms=data["max_us"] / 1000,
        socket_errors={k: v for k, v in data["errors"].items() if v},
    )


def booking_script(*, tokens: list[str], targets: list[Target]) -> str:
    return BOOKING_LUA % {
        "tokens": _lua_strings(tokens),
        "slots": ", ".join(str(t.slot_id) for t in targets),
        "variants": ", ".join(str(t.variant_id) for t in targets),
    }


def webhook_script(*, deliveries: list[tuple[str, str, str]], threads: int) -> str:
    """``deliveries``: (raw body, X-Razorpay-Signature, X-Razorpay-Event-Id)."""
    return WEBHOOK_LUA % {
        "bodies": _lua_strings(d[0] for d in deliveries),
        "signatures": _lua_strings(d[1] for d in deliveries),
        "event_ids": _lua_strings(d[2] for d in deliveries),
        "threads": threads,
    }
